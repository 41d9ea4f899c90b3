"""The end of a cycle: once promote has decided, the parent run gets its description and headline
metrics and is ended ``FINISHED`` (:mod:`driftloop.cycle_run`, :mod:`driftloop.cycle_story`).

Read from the cycle's own reports through the contracts, after the promote stage wrote them, so
that the story is the one ``dvc repro`` just produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop.config import section
from driftloop.context import StageContext


def conclude_cycle(ctx: StageContext, cfg: Mapping[str, Any], decision: Mapping[str, Any]) -> None:
    """Describe the cycle on its parent run (markdown), log its fixed headline metrics, end it FINISHED."""
    from driftloop.cycle_run import finish
    from driftloop.cycle_story import cycle_note, headline_metrics
    from driftloop.promote.config import PromoteConfig
    from driftloop.report import read_cycle

    if ctx.cycle_run_id is None:
        return
    summary = read_cycle(ctx.workspace, decision)
    primary = PromoteConfig.from_dict(section(cfg, "promote")).primary_metric
    finish(ctx.cycle_run_id, note=cycle_note(summary, primary), metrics=headline_metrics(summary, primary))
