"""Power of the promotion rule on compare's paired bootstrap, by simulation (issue 11.6).

For every promoted metric x holdout size x disagreement between the two models, simulated
holdouts go through the production path: :func:`driftloop.compare.comparison.compare_predictions`
(paired Poisson bootstrap keyed by row id, 1,000 resamples, seed 0, ``compare.confidence``) and
promote's rule ``{metric: <m>, min_gain: <g>, significant: true}``
(:func:`driftloop.promote.gates.rule_gates`: the gain is at least g and the paired interval of the
delta lies beyond g). g is the shipped primary rule's (conf/promote/<task>.yaml: absolute for
classification, relative for regression) and 0, each at every confidence level asked for, on the
same holdouts. Printed per cell, with 95 % Wilson intervals:

- power: the promotion rate of a challenger truly 2 points better (target >= 0.80);
- false promotion: the rate for an equally good challenger (target <= 0.05; a worse one is
  promoted less often still), per cell and pooled over the cells of a metric;
- rows for 80 % power, from the measured spread of the paired delta (normal approximation:
  n80 = ((z_{1-a} + z_{0.80}) * sd(delta) * sqrt(n) / (gain - margin))^2).

Generators (this file's own, not the tests'):

classification   3 classes, champion accuracy 0.80, challenger better by ``--gain`` (default
                 0.02). The two models' correctness is drawn jointly so that their predicted
                 classes differ on a share D of rows (compare.json's ``disagreement_rate``); a
                 wrong prediction is a uniformly chosen other class, and when both are wrong they
                 choose the same class with probability 0.75.
  balanced       equal class shares: macro-F1 equals accuracy in the population, so +2 points is
                 +2 points of both (one simulation serves both metrics).
  imbalanced     shares 0.6 / 0.3 / 0.1, the challenger's accuracy set so that its population
                 macro-F1 is 2 points higher (f1_macro only: under this generator accuracy's
                 power does not depend on the shares, so the balanced rows hold for it).
regression       Gaussian errors, the challenger's correlated with the champion's at rho
                 (compare.json's ``error_correlation``) and 2 % smaller: RMSE and MAE 2 % lower
                 (relative: a regression "point" has no unit).
  regression-t5  Student-t errors with 5 degrees of freedom (heavy tails), RMSE 2 % lower.

Run (one process; measured on the 2 shared cores: the full grid at 200 trials a cell in about 17
minutes, ``--sizes 5000 --trials 400`` in about 11; cells are independent, --jobs 2 shares them out):

    python bench/bench_power.py                              # every scenario, 200 trials a cell
    python bench/bench_power.py --trials 60 --sizes 5000     # a quick look at the 5,000-row holdout
    python bench/bench_power.py --scenarios balanced --confidence 0.95 0.90 --min-gain shipped 0 0.0025
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small products; one thread each keeps the 2 shared cores for others

import numpy as np  # noqa: E402
from scipy import optimize, stats  # noqa: E402

CLASSES = np.array(["negative", "neutral", "positive"])
BASE_ACCURACY = 0.80
SAME_WRONG = 0.75  # both wrong: the same wrong class with this probability
SCENARIOS = {
    "balanced": {
        "task": "classification",
        "shares": (1 / 3, 1 / 3, 1 / 3),
        "metrics": ("accuracy", "f1_macro"),
        "levels": (0.10, 0.15, 0.20, 0.26, 0.35),
    },
    "imbalanced": {
        "task": "classification",
        "shares": (0.6, 0.3, 0.1),
        "metrics": ("f1_macro",),
        "levels": (0.10, 0.15, 0.20, 0.26, 0.35),
    },
    "regression": {
        "task": "regression",
        "errors": "normal",
        "metrics": ("rmse", "mae"),
        "levels": (0.5, 0.8, 0.9, 0.95),
    },
    "regression-t5": {"task": "regression", "errors": "t5", "metrics": ("rmse",), "levels": (0.5, 0.8, 0.9, 0.95)},
}


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    from driftloop.drift.unseen import wilson_interval as _library_wilson  # the one implementation

    if n <= 0:
        return 0.0, 1.0
    return _library_wilson(k, n, z)


# -- classification -------------------------------------------------------------------------------


def _cells(p0: float, p1: float, disagreement: float) -> np.ndarray:
    """P(both right, only champion right, only challenger right, both wrong) giving ``disagreement``.

    Predictions differ when exactly one model is right, or both are wrong with different classes:
    D = c10 + c01 + (1 - s) c00 with c11 + c10 = p0, c11 + c01 = p1, the four summing to 1.
    """
    s = SAME_WRONG
    both = ((p0 + p1) * s + (1 - s) - disagreement) / (1 + s)
    cells = np.array([both, p0 - both, p1 - both, 1 - p0 - p1 + both])
    if (cells < -1e-12).any():
        raise ValueError(f"disagreement {disagreement} is impossible at accuracies {p0:.3f}, {p1:.3f}.")
    return np.clip(cells, 0, None) / np.clip(cells, 0, None).sum()


def population_f1(accuracy: float, shares: tuple[float, ...]) -> float:
    """Macro-F1 of the expected confusion matrix: accuracy on every class, errors spread evenly."""
    pi = np.asarray(shares)
    k = len(pi)
    cm = np.outer(pi, np.full(k, (1 - accuracy) / (k - 1)))
    np.fill_diagonal(cm, pi * accuracy)
    tp = np.diag(cm)
    return float(np.mean(2 * tp / (cm.sum(0) + cm.sum(1))))


def challenger_accuracy(shares: tuple[float, ...], metric: str, gain: float) -> float:
    if metric == "accuracy":
        return BASE_ACCURACY + gain
    target = population_f1(BASE_ACCURACY, shares) + gain
    return optimize.brentq(lambda a: population_f1(a, shares) - target, BASE_ACCURACY, 0.999)


def classification_holdout(rng: np.random.Generator, n: int, shares, p1: float, disagreement: float):
    from driftloop.compare.predict import Predictions

    k = len(CLASSES)
    cells = rng.choice(4, size=n, p=_cells(BASE_ACCURACY, p1, disagreement))
    y = rng.choice(k, size=n, p=np.asarray(shares))
    champ_ok, chall_ok = np.isin(cells, (0, 1)), np.isin(cells, (0, 2))
    wrong_champ = (y + rng.integers(1, k, n)) % k
    other = (y + rng.integers(1, k, n)) % k  # the challenger's own wrong class, when not copying
    same = rng.random(n) < SAME_WRONG
    # The other class than y and wrong_champ (k = 3): what a different wrong choice means.
    distinct = 3 - y - wrong_champ
    wrong_chall = np.where(champ_ok, other, np.where(same, wrong_champ, distinct))
    champ = np.where(champ_ok, y, wrong_champ)
    chall = np.where(chall_ok, y, wrong_chall)
    classes = tuple(CLASSES)
    return CLASSES[y], Predictions(CLASSES[chall], None, classes), Predictions(CLASSES[champ], None, classes)


# -- regression -----------------------------------------------------------------------------------


def regression_holdout(rng: np.random.Generator, n: int, errors: str, rho: float, gain: float):
    from driftloop.compare.predict import Predictions

    def draw() -> np.ndarray:
        if errors == "normal":
            return rng.standard_normal(n)
        return rng.standard_t(5, n) / math.sqrt(5 / 3)  # unit variance

    y = 10 + 3 * rng.standard_normal(n)
    e0, eps = draw(), draw()
    e1 = (1 - gain) * (rho * e0 + math.sqrt(1 - rho * rho) * eps)  # same variance shape, RMSE (1-gain)x
    return y, Predictions(y + e1, None, ()), Predictions(y + e0, None, ())


# -- one cell -------------------------------------------------------------------------------------

_CONF = Path(__file__).resolve().parents[1] / "conf" / "promote"


def shipped_rule(task: str) -> dict:
    """The first ``min_gain`` rule of conf/promote/<task>.yaml: its gain, form and significance."""
    import yaml

    rules = yaml.safe_load((_CONF / f"{task}.yaml").read_text()).get("rules") or []
    rule = next(r for r in rules if r.get("min_gain") is not None)
    return {
        "min_gain": float(rule["min_gain"]),
        "relative": bool(rule.get("relative", False)),
        "significant": bool(rule.get("significant", True)),
    }


@dataclass(frozen=True)
class Cell:
    scenario: str
    n: int
    level: float
    effect: str  # "better" | "equal"
    trials: int
    variants: tuple[tuple[float, float], ...]  # (compare.confidence, min_gain) pairs
    gain: float
    seed: int


class _SameResamples:
    """``bootstrap_sums`` that reuses its last result for an identical call.

    The confidence levels are evaluated on the same holdouts; the resamples do not depend on the
    level (same columns, seed and row keys), so the second call's sums are the first's. Only the
    level's percentiles then differ: what compare would compute anyway, at a fraction of the cost.
    """

    def __init__(self, inner):
        self.inner, self.last = inner, None

    def __call__(self, columns, n_boot, rng, scheme="poisson", keys=None):
        state = rng.bit_generator.state
        if self.last is not None:
            c, b, st, sc, k, sums = self.last
            if (
                (b, sc, st) == (n_boot, scheme, state)
                and np.array_equal(c, columns)
                and ((k is None and keys is None) or (k is not None and keys is not None and np.array_equal(k, keys)))
            ):
                return sums
        sums = self.inner(columns, n_boot, rng, scheme, keys=keys)
        self.last = (columns.copy(), n_boot, state, scheme, None if keys is None else keys.copy(), sums)
        return sums


def run_cell(cell: Cell) -> dict:
    """Promotion counts per (metric, variant), the point deltas, champion values and realised disagreement."""
    import driftloop.compare.comparison as comparison
    from driftloop.compare.comparison import compare_predictions
    from driftloop.compare.config import CompareConfig
    from driftloop.promote.config import MetricRule
    from driftloop.promote.gates import rule_gates

    spec = SCENARIOS[cell.scenario]
    metrics = spec["metrics"]
    form = shipped_rule(spec["task"])
    rules = {
        (m, g): MetricRule.from_dict(
            {"metric": m, "min_gain": g, "relative": form["relative"], "significant": True}, "promote.rules[0]"
        )
        for m in metrics
        for _, g in cell.variants
    }
    configs = {
        c: CompareConfig.from_dict({"n_bootstrap": 1000, "confidence": c, "seed": 0})
        for c in dict.fromkeys(c for c, _ in cell.variants)
    }
    gain = cell.gain if cell.effect == "better" else 0.0
    # The calibrated challenger accuracy (imbalanced f1_macro needs its own; balanced: acc = F1).
    p1 = None
    if spec["task"] == "classification":
        p1 = challenger_accuracy(spec["shares"], "f1_macro" if cell.scenario == "imbalanced" else "accuracy", gain)
    rng = np.random.default_rng(
        [
            cell.seed,
            int(cell.n),
            round(cell.level * 1000),
            int(cell.effect == "better"),
            sum(map(ord, cell.scenario)),
        ]
    )
    promoted = {(m, v): 0 for m in metrics for v in cell.variants}
    deltas: dict[str, list[float]] = {m: [] for m in metrics}
    champions: dict[str, list[float]] = {m: [] for m in metrics}
    realised = []
    ids = np.arange(cell.n)
    if not isinstance(comparison.bootstrap_sums, _SameResamples):
        comparison.bootstrap_sums = _SameResamples(comparison.bootstrap_sums)
    for _ in range(cell.trials):  # a loop over simulated holdouts, not rows
        if spec["task"] == "classification":
            y, chall, champ = classification_holdout(rng, cell.n, spec["shares"], p1, cell.level)
        else:
            y, chall, champ = regression_holdout(rng, cell.n, spec["errors"], cell.level, gain)
        for c, cfg in configs.items():
            doc = compare_predictions(y, chall, champ, cfg, spec["task"], ids=ids).to_dict()
            for m in metrics:
                for v in cell.variants:
                    if v[0] == c:
                        promoted[(m, v)] += bool(rule_gates(doc, rules[(m, v[1])])[0].passed)
        for m in metrics:
            deltas[m].append(doc["metrics"][m]["delta"])
            champions[m].append(doc["metrics"][m]["champion"])
        realised.append(doc.get("disagreement_rate", doc.get("error_correlation")))
    print(f"  done {cell.scenario} n={cell.n} level={cell.level} {cell.effect}", file=sys.stderr, flush=True)
    return {
        "cell": cell,
        "promoted": promoted,
        "deltas": deltas,
        "realised": float(np.mean(realised)),
        "champion": {m: float(np.mean(v)) for m, v in champions.items()},
    }


# -- report ---------------------------------------------------------------------------------------


def _rate(k: int, n: int, target: float, above: bool) -> str:
    lo, hi = wilson(k, n)
    miss = (k / n < target) if above else (k / n > target)
    return f"{k / n:.3f} [{lo:.2f}-{hi:.2f}]{'!' if miss else ' '}"


def _label(variant: tuple[float, float], relative: bool) -> str:
    c, g = variant
    return f"@{c:.2f} g{g * 100:g}%" if relative else f"@{c:.2f} g{g:g}"


def report(results: list[dict], variants: tuple[tuple[float, float], ...], gain: float) -> None:
    by = {(r["cell"].scenario, r["cell"].n, r["cell"].level, r["cell"].effect): r for r in results}
    z80 = stats.norm.ppf(0.80)
    for scenario in dict.fromkeys(r["cell"].scenario for r in results):
        spec = SCENARIOS[scenario]
        relative = shipped_rule(spec["task"])["relative"]
        level_name = "D" if spec["task"] == "classification" else "rho"
        sizes = sorted({r["cell"].n for r in results if r["cell"].scenario == scenario})
        levels = sorted({r["cell"].level for r in results if r["cell"].scenario == scenario})
        better = f"{gain * 100:+.0f} points" if spec["task"] == "classification" else f"{gain:.0%} lower error"
        print(
            f"\n== {scenario}: rule {{metric, min_gain: g{', relative: true' if relative else ''}, significant: "
            f"true}} at compare.confidence @c. Power: challenger {better} (target >= 0.80). False promotion: "
            "an equally good challenger (target <= 0.05). 95% Wilson intervals; '!': the point misses the target"
        )
        cols = "".join(f"{_label(v, relative):>21s}" for v in variants)
        for metric in spec["metrics"]:
            pooled = {v: [0, 0] for v in variants}
            for what, effect, target, above in (("power", "better", 0.80, True), ("false", "equal", 0.05, False)):
                print(f"\n{metric:9s} {what:5s} {'n':>6s} {level_name:>5s} {'seen':>6s}{cols}")
                for level in levels:
                    for n in sizes:
                        r = by.get((scenario, n, level, effect))
                        if r is None:
                            continue
                        t = r["cell"].trials
                        line = f"{'':15s} {n:6d} {level:5.2f} {r['realised']:6.3f}"
                        line += "".join(f"{_rate(r['promoted'][(metric, v)], t, target, above):>21s}" for v in variants)
                        if effect == "equal":
                            for v in variants:
                                pooled[v][0] += r["promoted"][(metric, v)]
                                pooled[v][1] += t
                        print(line)
            print(
                f"{'':15s} false, pooled over every n and {level_name}:"
                + "".join(f"{_rate(k, t, 0.05, False):>21s}" for k, t in pooled.values())
                + f"  (of {max(t for _, t in pooled.values())})"
            )
            # Holdout size for 80 % power, per level: sd(delta) * sqrt(n) pooled over sizes, and the
            # interval must clear the margin: n80 = ((z_{1-a} + z_0.80) * sigma / (gain - margin))^2.
            for level in levels:
                spread, mean, champ = [], [], []
                for n in sizes:
                    r = by.get((scenario, n, level, "better"))
                    if r is not None:
                        d = np.asarray(r["deltas"][metric], dtype=float)
                        spread.append(d.var(ddof=1) * n)
                        mean.append(abs(d.mean()))
                        champ.append(abs(r["champion"][metric]))
                if not spread:
                    continue
                sigma, delta = math.sqrt(float(np.mean(spread))), float(np.mean(mean))
                need = []
                for c, g in variants:
                    margin = g * float(np.mean(champ)) if relative else g
                    z = stats.norm.ppf(1 - (1 - c) / 2) + z80
                    need.append(
                        "never" if delta <= margin else f"{int(round((z * sigma / (delta - margin)) ** 2, -2)):,}"
                    )
                print(f"{'':15s} rows for 80% power at {level_name}={level:.2f}:" + "".join(f"{x:>21s}" for x in need))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200, help="simulated holdouts per cell (default 200)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    ap.add_argument(
        "--confidence",
        type=float,
        nargs="+",
        default=[0.95, 0.92, 0.90],
        help="compare.confidence levels to evaluate, on the same holdouts (default 0.95 0.92 0.90)",
    )
    ap.add_argument(
        "--min-gain",
        nargs="+",
        default=["shipped", "0"],
        help="min_gain values of the rule ('shipped': conf/promote/<task>.yaml's, in its form, "
        "absolute or relative; default: shipped and 0)",
    )
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument("--gain", type=float, default=0.02, help="the better challenger's true gain (default 0.02)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: the machine has 2 shared cores)")
    args = ap.parse_args()
    for task in ("classification", "regression"):
        print(f"shipped primary rule ({task}): {shipped_rule(task)}")
    cells = []
    for s in args.scenarios:
        shipped = shipped_rule(SCENARIOS[s]["task"])["min_gain"]
        gains = tuple(dict.fromkeys(shipped if g == "shipped" else float(g) for g in args.min_gain))
        variants = tuple((c, g) for g in gains for c in args.confidence)
        cells += [
            Cell(s, n, level, effect, args.trials, variants, args.gain, args.seed)
            for level in SCENARIOS[s]["levels"]
            for n in args.sizes
            for effect in ("better", "equal")
        ]
    print(
        f"{len(cells)} cells x {args.trials} holdouts, compare_predictions (1,000 Poisson resamples keyed by "
        "row id, seed 0) + promote's rule_gates",
        flush=True,
    )
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    for scenario in args.scenarios:  # one table as soon as its scenario is done
        t0 = time.perf_counter()
        todo = [c for c in cells if c.scenario == scenario]
        results = list(pool.map(run_cell, todo)) if pool else [run_cell(c) for c in todo]
        report(results, todo[0].variants, args.gain)
        print(f"({scenario}: {time.perf_counter() - t0:.0f} s)", flush=True)
    if pool:
        pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
