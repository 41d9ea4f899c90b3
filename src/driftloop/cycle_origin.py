"""Which parent run a stage writes to: a production cycle's records are never touched by an
experiment, a rerun of a finished cycle or a stage run by hand.

A stage process is started one of three ways, read from the environment DVC gives its commands:

- ``production``: by ``dvc repro`` (DVC sets ``DVC_STAGE``);
- ``experiment``: by ``dvc exp run`` (DVC also sets ``DVC_EXP_NAME`` and ``DVC_EXP_BASELINE_REV``);
- ``manual``: by hand (``driftloop stage drift``, ``python pipelines/drift.py``, a test).

The snapshot stage opens a parent run for its cycle, tagged with its origin. A later stage
*continues* that run only when it was started the same way (the same experiment, for
experiments) and the cycle is not finished yet; otherwise it writes under a *derived* parent run
(``exp-<name>-…``, ``rerun-…`` or ``manual-…``) that names the cycle it reused. So a finished
production cycle is never modified, and an unfinished one is completed by the ``dvc repro`` that
resumes it. Pure: no MLflow here (:mod:`driftloop.tracking` does the I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftloop.tags import TAG_BASED_ON, TAG_EXP_BASELINE, TAG_EXP_NAME, TAG_KIND, TAG_ORIGIN

#: How a stage process was started.
PRODUCTION, EXPERIMENT, MANUAL = "production", "experiment", "manual"
#: The origin of a derived parent run opened by a production stage on a finished cycle.
RERUN = "rerun"


@dataclass(frozen=True)
class Origin:
    """How this stage process was started.

    Attributes
    ----------
    kind : str
        ``production``, ``experiment`` or ``manual``.
    exp_name, exp_baseline : str or None
        The DVC experiment's name and baseline commit (experiments only).
    """

    kind: str
    exp_name: str | None = None
    exp_baseline: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Origin:
        """Read the origin from the environment DVC gives a stage's command.

        >>> Origin.from_env({"DVC_STAGE": "drift"}).kind
        'production'
        >>> Origin.from_env({"DVC_STAGE": "drift", "DVC_EXP_NAME": "lr-01", "DVC_EXP_BASELINE_REV": "ab12"})
        Origin(kind='experiment', exp_name='lr-01', exp_baseline='ab12')
        >>> Origin.from_env({}).kind
        'manual'
        """
        name = env.get("DVC_EXP_NAME")
        if name:
            return cls(EXPERIMENT, exp_name=name, exp_baseline=env.get("DVC_EXP_BASELINE_REV") or None)
        return cls(PRODUCTION if env.get("DVC_STAGE") else MANUAL)

    def tags(self) -> dict[str, str]:
        """The tags a parent run opened by this origin carries."""
        out = {TAG_KIND: "cycle", TAG_ORIGIN: self.kind}
        if self.exp_name:
            out[TAG_EXP_NAME] = self.exp_name
        if self.exp_baseline:
            out[TAG_EXP_BASELINE] = self.exp_baseline
        return out


def run_origin(tags: Mapping[str, str]) -> str:
    """The origin a parent run records; a cycle run opened before origins were recorded was a
    production cycle.

    >>> run_origin({}), run_origin({"driftloop.origin": "experiment"})
    ('production', 'experiment')
    """
    return tags.get(TAG_ORIGIN) or PRODUCTION


def may_continue(origin: Origin, status: str, tags: Mapping[str, str]) -> bool:
    """Whether a stage started as ``origin`` writes into the cycle run with ``status`` and ``tags``.

    Only a cycle that is not ``FINISHED``, opened the same way (and for an experiment, by the same
    experiment), is continued; a ``FAILED`` one is resumed by the stage that retries it.

    >>> prod = Origin(PRODUCTION)
    >>> may_continue(prod, "RUNNING", {}), may_continue(prod, "FINISHED", {})
    (True, False)
    >>> may_continue(Origin(EXPERIMENT, "e1"), "RUNNING", {})
    False
    >>> may_continue(Origin(MANUAL), "FAILED", {"driftloop.origin": "manual"})
    True
    """
    if status == "FINISHED" or tags.get(TAG_BASED_ON):
        return False
    if origin.kind != run_origin(tags):
        return False
    return origin.kind != EXPERIMENT or tags.get(TAG_EXP_NAME) == origin.exp_name


def derived_origin(origin: Origin) -> str:
    """The origin recorded on a derived parent run: a production stage on a finished cycle is a rerun.

    >>> derived_origin(Origin(PRODUCTION)), derived_origin(Origin(MANUAL))
    ('rerun', 'manual')
    """
    return RERUN if origin.kind == PRODUCTION else origin.kind


def derived_tags(origin: Origin, based_on: str) -> dict[str, str]:
    """The tags of a derived parent run opened by ``origin`` on cycle ``based_on``."""
    return {**origin.tags(), TAG_ORIGIN: derived_origin(origin), TAG_BASED_ON: based_on}


def may_reuse_derived(origin: Origin, based_on: str, status: str, tags: Mapping[str, str]) -> bool:
    """Whether an open derived parent run (``status``, ``tags``) collects this stage too: the same
    origin on the same cycle, not finished, and for an experiment the same experiment.

    >>> tags = derived_tags(Origin(EXPERIMENT, "e1"), "c1")
    >>> may_reuse_derived(Origin(EXPERIMENT, "e1"), "c1", "RUNNING", tags)
    True
    >>> may_reuse_derived(Origin(EXPERIMENT, "e2"), "c1", "RUNNING", tags)
    False
    """
    return (
        status != "FINISHED"
        and tags.get(TAG_BASED_ON) == based_on
        and tags.get(TAG_ORIGIN) == derived_origin(origin)
        and tags.get(TAG_EXP_NAME) == origin.exp_name
    )


def parent_run_name(origin: str, slug: str, exp_name: str | None = None) -> str:
    """The run name of a parent run: the prefix says where it came from, for the UI's filter box.

    >>> parent_run_name("production", "20261201-120000")
    'cycle-20261201-120000'
    >>> parent_run_name("experiment", "20261201-120000", "lr-01")
    'exp-lr-01-20261201-120000'
    >>> parent_run_name("rerun", "20261201-120000")
    'rerun-20261201-120000'
    """
    if origin == PRODUCTION:
        return f"cycle-{slug}"
    if origin == EXPERIMENT:
        return f"exp-{exp_name}-{slug}" if exp_name else f"exp-{slug}"
    return f"{origin}-{slug}"
