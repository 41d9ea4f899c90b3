"""The demo generator: deterministic, calm before the drift week, drifted after — checked with
scipy's tests directly, independent of driftloop's drift code."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from driftloop.demo.feedback import DRIFTED_COLUMNS, Scenario, generate_week

KW = {"rows": 3000, "seed": 7, "start": "2026-01-05", "scenario": Scenario()}


def _weeks(ws):
    return pd.concat([generate_week(w, **KW) for w in ws], ignore_index=True)


def test_weeks_are_deterministic_and_independent_of_which_are_generated():
    pd.testing.assert_frame_equal(generate_week(8, **KW), generate_week(8, **KW))
    assert not generate_week(8, **KW).equals(generate_week(9, **KW))


def _pvalue(col, a, b):
    if col in ("stars", "comment_length"):
        return stats.ks_2samp(a[col], b[col]).pvalue
    table = pd.crosstab(np.r_[np.zeros(len(a)), np.ones(len(b))], pd.concat([a[col], b[col]]).to_numpy())
    return stats.chi2_contingency(table).pvalue


def test_only_the_drifted_columns_move_after_the_drift_week():
    calm, later_calm, drifted = _weeks([1, 2]), _weeks([4, 5]), _weeks([8, 9])
    for col in ("stars", "comment_length", "product_area", "channel", "label"):
        assert _pvalue(col, calm, later_calm) > 1e-3, f"{col} drifts between calm weeks"
    for col in ("stars", "product_area", "label"):
        assert _pvalue(col, calm, drifted) > 1e-3, f"{col} must not drift"
    for col in ("comment_length", "channel"):
        assert col in DRIFTED_COLUMNS and _pvalue(col, calm, drifted) < 1e-12


def test_new_jargon_only_after_the_drift_week_and_concept_shift():
    calm, drifted = _weeks([1, 2, 3]), _weeks([8, 9])
    assert not calm["comment"].str.contains("copilot").any()
    assert drifted["comment"].str.contains("copilot").mean() > 0.1
    okay = lambda df: df.loc[df["comment"].str.startswith("it's okay"), "label"].value_counts(normalize=True)  # noqa: E731
    assert okay(calm).idxmax() == "neutral"
    assert okay(drifted).idxmax() == "negative"
