"""Fixtures for the comparison tests: the shared synthetic data of tests/synthetic.py and two
fitted classifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..synthetic import CLASSES, frames, make, make_frame, make_schema, make_schema_for, schema  # noqa: F401

_CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def trained():
    """A good and a heavily regularised (worse) classifier, fitted once per module."""
    import yaml

    from driftloop.train.model import build_model, fit_model
    from driftloop.train.windows import WindowConfig, select_training_window

    sch = make_schema()
    window = select_training_window(
        make_frame(1200, "2026-01-01", 21, 1), make_frame(1500, "2026-01-22", 21, 2), sch, WindowConfig()
    )
    cfg = yaml.safe_load((_CONF / "model" / "logreg_tfidf.yaml").read_text())
    good = fit_model(build_model(cfg, sch), window, sch).model
    weak = yaml.safe_load((_CONF / "model" / "logreg_tfidf.yaml").read_text())
    weak["estimator"]["C"] = 0.001  # heavily regularised: clearly worse
    bad = fit_model(build_model(weak, sch), window, sch).model
    return sch, window, good, bad
