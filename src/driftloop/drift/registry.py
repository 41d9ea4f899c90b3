"""The one table of drift tests, keyed by (column kind, test name).

Tests are registered explicitly here (no import side effects). Each test takes a prepared
comparison of one column (reference summary + current summary) and its effect threshold, and
returns a frozen :class:`~driftloop.drift.results.StatResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from driftloop.drift import categorical, missing, numeric, text
from driftloop.drift.results import StatResult
from driftloop.errors import ConfigError


class UnknownTestError(ConfigError):
    """A drift test name is not registered for the column kind; the message lists valid names."""


@dataclass(frozen=True)
class TestSpec:
    """A registered test: its function, whether it has its own p-value, and a one-line description."""

    __test__ = False  # not a pytest class

    kind: str
    name: str
    fn: Callable[..., StatResult]
    own_p_value: bool
    description: str


def _spec(
    kind: str, name: str, fn: Callable[..., StatResult], own: bool, desc: str
) -> tuple[tuple[str, str], TestSpec]:
    return (kind, name), TestSpec(kind, name, fn, own, desc)


TEST_REGISTRY: dict[tuple[str, str], TestSpec] = dict(
    [
        _spec(
            "numeric",
            "ks",
            numeric.ks_test,
            True,
            "Kolmogorov-Smirnov D and p (scipy's values up to numeric.exact_max_values distinct reference values;"
            " beyond, a sketch whose D can only be low, bound in details)",
        ),
        _spec("numeric", "wasserstein", numeric.wasserstein_test, False, "Wasserstein-1 / reference std"),
        _spec("numeric", "psi", numeric.psi_test, False, "PSI, reference-quantile bins + overflow, 0.5 pseudocount"),
        _spec("numeric", "js", numeric.js_test, False, "Jensen-Shannon distance (base 2), same bins as PSI"),
        _spec("numeric", "missing", missing.missing_test, True, "change of the missing-value rate"),
        _spec(
            "categorical",
            "chi2",
            categorical.chi2_test,
            True,
            "contingency chi2, levels under min_expected pooled by their totals; Cramer's V",
        ),
        _spec("categorical", "psi", categorical.psi_test, False, "PSI over the pooled table, 0.5 pseudocount"),
        _spec(
            "categorical", "js", categorical.js_test, False, "Jensen-Shannon distance (base 2) over the pooled table"
        ),
        _spec(
            "categorical",
            "unseen",
            categorical.unseen_test,
            True,
            "share of values in levels the reference never had, over its Good-Turing expectation",
        ),
        _spec("categorical", "missing", missing.missing_test, True, "change of the missing-value rate"),
        _spec(
            "id_like",
            "unseen",
            categorical.unseen_test,
            True,
            "share of values the reference never had, over its Good-Turing expectation",
        ),
        _spec("id_like", "missing", missing.missing_test, True, "change of the missing-value rate"),
        _spec(
            "text",
            "token_js",
            text.token_js_test,
            True,
            "JS distance of term frequencies; p from a document permutation test over the top pooled terms",
        ),
        _spec("text", "oov_rate", text.oov_rate_test, True, "out-of-vocabulary rate increase over Good-Turing"),
        _spec("text", "length_ks", text.length_ks_test, True, "KS on document length (characters)"),
        _spec("text", "missing", missing.missing_test, True, "change of the missing-value rate"),
    ]
)

# For tests without their own p-value: the test of the same kind whose p-value gates them.
P_SOURCE = {"numeric": "ks", "categorical": "chi2", "text": "token_js", "id_like": "unseen"}


def names(kind: str) -> list[str]:
    """Registered test names for ``kind``."""
    return [n for (k, n) in TEST_REGISTRY if k == kind]


def get_test(kind: str, name: str) -> TestSpec:
    """Look a test up.

    Raises
    ------
    UnknownTestError
        When ``(kind, name)`` is not registered; the message lists the valid names for ``kind``.
    """
    try:
        return TEST_REGISTRY[(kind, name)]
    except KeyError:
        if kind not in P_SOURCE:
            raise UnknownTestError(f"Unknown column kind {kind!r}; valid kinds: {sorted(P_SOURCE)}.") from None
        raise UnknownTestError(f"Unknown drift test {name!r} for {kind} columns; valid tests: {names(kind)}.") from None
