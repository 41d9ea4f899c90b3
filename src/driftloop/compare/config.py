"""The ``compare`` config group: how the evidence is gathered (intervals, slices, calibration).

Compare decides nothing: which metric must improve, by how much, and which may not regress
are promote's rules (``promote.rules``). Keys that used to decide here are refused with the
key that replaced them, so an old ``params.yaml`` is never silently half-applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.compare.bootstrap import SCHEMES, Scheme
from driftloop.errors import ConfigError
from driftloop.validation import Key, check, mapping_of

__all__ = ["CompareConfig"]


#: Keys of earlier versions that decided in compare, and the promote key that replaced each.
RENAMED: dict[str, str] = {
    "primary_metric": "promote.rules[].metric of a min_gain rule (e.g. {metric: f1_macro, min_gain: 0.0})",
    "greater_is_better": "promote.rules[].greater_is_better",
    "margin": "promote.rules[].min_gain (absolute, or relative: true)",
    "guards": "promote.rules: [{metric: <name>, max_regression: <tolerance>}]",
    "require_mcnemar": "promote.rules[].significant (McNemar's p stays in compare.json as metrics.accuracy.p_value)",
    "alpha": "compare.confidence (the paired interval's level) and promote.rules[].significant",
}

#: Metrics computed per slice level (a full table per level would make compare.json unreadable).
SLICE_METRICS: dict[str, tuple[str, ...]] = {"classification": ("accuracy", "f1_macro"), "regression": ("rmse", "mae")}

#: Kind, range, default and meaning of every key (``null`` takes the default).
TABLE: dict[str, Key] = {
    "n_bootstrap": Key("integer", 1000, low=100, doc="paired bootstrap resamples"),
    "confidence": Key(
        "number", 0.95, low=0.5, high=1.0, low_open=True, high_open=True, doc="two-sided level of every paired interval"
    ),
    "seed": Key("integer", 0, low=0, doc="seed of the bootstrap Generator"),
    "bootstrap": Key("choice", "poisson", choices=tuple(SCHEMES), doc="resample count scheme"),
    "slices": Key("names", (), doc="categorical columns whose levels get their own metrics"),
    "min_slice_rows": Key("integer", 30, low=1, doc="levels with fewer rows are skipped"),
    "max_slice_levels": Key("integer", 20, low=1, doc="at most this many most frequent levels per column"),
    "ece_bins": Key("integer", 10, low=2, doc="equal-width confidence bins of the calibration error"),
    "allow_pickle_models": Key(
        "bool",
        False,
        doc="load champion/challenger folders saved as pickle (can run code: trusted folders only, "
        "e.g. a champion registered before the skops format)",
    ),
}


@dataclass(frozen=True)
class CompareConfig:
    """The ``compare`` config group.

    Parameters
    ----------
    n_bootstrap, confidence, seed : int, float, int
        Paired bootstrap resamples, two-sided interval level, seed of its Generator.
    bootstrap : {"poisson", "multinomial"}
        Resample count scheme (see :mod:`driftloop.compare.bootstrap`).
    slices : list of str
        Categorical columns whose levels get per-slice metrics (:data:`SLICE_METRICS`).
    min_slice_rows, max_slice_levels : int
        Levels with fewer rows are skipped; at most this many most frequent levels per column.
    ece_bins : int
        Equal-width confidence bins of the expected calibration error.
    allow_pickle_models : bool
        Load model folders saved as pickle or cloudpickle (or in a flavour other than
        scikit-learn) with MLflow's loader. False: they are refused before anything in them is
        loaded (:mod:`driftloop.compare.model_format`); skops folders always load.
    """

    n_bootstrap: int = TABLE["n_bootstrap"].default
    confidence: float = TABLE["confidence"].default
    seed: int = TABLE["seed"].default
    bootstrap: Scheme = TABLE["bootstrap"].default
    slices: tuple = TABLE["slices"].default
    min_slice_rows: int = TABLE["min_slice_rows"].default
    max_slice_levels: int = TABLE["max_slice_levels"].default
    ece_bins: int = TABLE["ece_bins"].default
    allow_pickle_models: bool = TABLE["allow_pickle_models"].default

    KEYS = tuple(TABLE)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> CompareConfig:
        """Build and validate from the ``compare`` config mapping.

        Raises
        ------
        ConfigError
            Naming any unknown or ill-typed key, and the new key of a key of an earlier version.

        Examples
        --------
        >>> CompareConfig.from_dict({"confidence": 0.9}).confidence
        0.9
        """
        m = dict(mapping_of(mapping, "compare"))
        old = [k for k in m if k in RENAMED]
        if old:
            raise ConfigError(
                "compare has key(s) " + str([f"compare.{k}" for k in old]) + " from an earlier "
                "driftloop; compare now only gathers evidence and promote decides: "
                + "; ".join(f"compare.{k} is now {RENAMED[k]}" for k in old)
                + ". Edit conf/ accordingly, then run `driftloop params`."
            )
        # null takes the default (a conf/ option may blank a key it inherits)
        return cls(**check({k: v for k, v in m.items() if v is not None}, TABLE, "compare"))
