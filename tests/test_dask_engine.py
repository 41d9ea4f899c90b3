"""The Dask engine (issue 17): a partitioned parquet window's drift summaries folded per partition on a
real ``distributed.LocalCluster`` (two worker processes on 127.0.0.1) equal the ``local`` engine's, and
the whole-file chunked path's counts; a worker killed mid-task is survived, or named.

The cluster is started and closed by a module fixture. Worker processes unpickle this module's fault
wrappers by value (``cloudpickle.register_pickle_by_value``): they cannot import ``tests``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.compare.predict import predict_outputs
from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference
from driftloop.drift.chunks import dataset_partitions, iter_file_chunks
from driftloop.drift.registry import names
from driftloop.drift.summary import merge_current, sampling, summarize_current, summarize_partition
from driftloop.engine import (
    EngineConfig,
    EngineError,
    map_merge,
    open_engine,
    score_partitioned,
    summarize_partitioned,
    summarize_reference_partitioned,
    training_sample,
)
from driftloop.errors import ConfigError, DataError
from driftloop.schema import Schema

from .local_cluster import local_client

distributed = pytest.importorskip("distributed")

KINDS = {"x": "numeric", "n": "numeric", "c": "categorical", "cat": "categorical", "t": "text", "uid": "id_like"}
KINDS_WITH_KEY = {**KINDS, "day": "categorical"}
WORDS = np.array(
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
)


def frame(n: int, seed: int, shift: float) -> pd.DataFrame:
    """Every column kind, with missing values of every pandas kind (NaN, None, pd.NA, a category's
    NaN), infinities, 3000 categorical levels and text with line breaks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.002] = np.inf
    ints = pd.array(rng.integers(0, 50, n) + int(10 * shift), dtype="Int64")
    ints[rng.random(n) < 0.03] = pd.NA
    levels = np.array([f"L{i}" for i in range(3000)], dtype=object)
    c = levels[np.minimum(rng.zipf(1.3 + shift / 10, n), 3000) - 1].astype(object)
    holes = rng.random(n)
    c[holes < 0.01] = None
    c[(holes >= 0.01) & (holes < 0.02)] = np.nan
    c[(holes >= 0.02) & (holes < 0.03)] = pd.NA
    cat = pd.Categorical(rng.choice(["red", "green", "blue", None], n, p=[0.4, 0.3, 0.2, 0.1]))
    t = [
        None if r < 0.04 else ("\n" if r < 0.5 else "\r\n").join(" ".join(rng.choice(WORDS, 4)) for _ in range(2))
        for r in rng.random(n)
    ]
    text = pd.array(t, dtype="string")
    text[rng.random(n) < 0.02] = pd.NA
    uid = np.array([f"u{seed}-{i}" for i in range(n)], dtype=object)
    y = np.where(np.nan_to_num(x, nan=0.0, posinf=0.0) + rng.normal(0, 0.5, n) > 0.2, "pos", "neg")
    start = pd.Timestamp("2026-11-01", tz="UTC") + pd.Timedelta(days=seed)
    ts = start + pd.to_timedelta(np.sort(rng.uniform(0, 2 * 86_400, n)), unit="s")  # two days per seed
    return pd.DataFrame({"x": x, "n": ints, "c": c, "cat": cat, "t": text, "uid": uid, "y": y, "ts": ts})


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    """A current window as hive partitions (day=1..3, two files each, one of them empty) and as one file."""
    root = tmp_path_factory.mktemp("window")
    parts = []
    for day in (1, 2, 3):
        df = frame(4000, seed=day, shift=0.3 * (day - 1)).assign(day=day)
        (root / "parts" / f"day={day}").mkdir(parents=True)
        halves = (df.iloc[:2500], df.iloc[2500:]) if day != 2 else (df, df.iloc[:0])
        for k, half in enumerate(halves):
            half.drop(columns="day").to_parquet(root / "parts" / f"day={day}" / f"part-{k}.parquet")
            parts.append(half)
    whole = pd.concat(parts, ignore_index=True)
    whole.to_parquet(root / "whole.parquet")
    reference = frame(6000, seed=99, shift=0.0).assign(day=np.random.default_rng(5).integers(1, 4, 6000))
    return root / "parts", root / "whole.parquet", reference


@pytest.fixture(scope="module")
def cfg():
    return DriftConfig.from_dict({"chunk_size": 1000, "multivariate": {"max_rows": 500}})


@pytest.fixture(scope="module")
def summary(window, cfg):
    return summarize_reference(window[2], KINDS_WITH_KEY, cfg)


@pytest.fixture(scope="module")
def client():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # One death of a task's worker is retried; a second makes it fail (KilledWorker): fast to reach.
    # A saturation of 1.0 gives each one-thread worker one task at a time: a dying worker takes only
    # the task it runs, not a queued bystander (which Dask would also count as suspicious).
    settings = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}
    try:
        with local_client(settings) as dask_client:
            yield dask_client
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def assert_same_counts(cs_a, cs_b) -> None:
    """The summaries' counts are equal; their sums within 1e-12."""
    assert cs_a.n_rows == cs_b.n_rows
    for c, a in cs_a.accumulators.items():
        b = cs_b.accumulators[c]
        assert (a.n_total, a.n_missing) == (b.n_total, b.n_missing), c
        if KINDS_WITH_KEY[c] == "numeric":
            assert a.n_inf == b.n_inf and np.array_equal(a.cells, b.cells), c
            np.testing.assert_allclose(a.cell_sums, b.cell_sums, rtol=1e-12, atol=1e-12)
        else:
            pd.testing.assert_series_equal(a.counts.sort_index(), b.counts.sort_index(), check_names=False)
        if KINDS_WITH_KEY[c] == "text":
            assert (a.n_tokens, a.n_invalid_utf8) == (b.n_tokens, b.n_invalid_utf8)
            assert np.array_equal(a.length.cells, b.length.cells)


def assert_same_statistics(rep_a, rep_b, skip=()) -> None:
    """Every test of every column: statistic and p-value within 1e-12, the same verdicts."""
    assert rep_a.columns.keys() == rep_b.columns.keys()
    for c, col in rep_a.columns.items():
        assert col.tests.keys() == rep_b.columns[c].tests.keys(), c
        for name, t in col.tests.items():
            if (c, name) in skip:
                continue
            u = rep_b.columns[c].tests[name]
            assert close(t.statistic, u.statistic), (c, name, t.statistic, u.statistic)
            assert close(t.p_value, u.p_value), (c, name, t.p_value, u.p_value)
            assert t.drifted == u.drifted, (c, name)


def test_every_registered_test_runs_on_the_window(summary, cfg):
    """The equality tests below cover every test of every kind (none left out by the config)."""
    for kind in ("numeric", "categorical", "text", "id_like"):
        assert set(cfg.kind(kind).tests) | {"missing"} == set(names(kind)), kind
    assert summary.kinds == KINDS_WITH_KEY  # uid stays id_like, day (a hive key) is a column


def test_local_partitioned_counts_equal_the_whole_file_chunked_path(window, summary, cfg):
    """Fast, no cluster: reading partition by partition (hive key filled in) loses or adds nothing."""
    parts, whole, _ = window
    assert len(dataset_partitions(parts)) == 6
    cs_parts = summarize_partitioned(summary, parts, cfg)
    cs_whole = summarize_current(
        summary, iter_file_chunks(whole, list(KINDS_WITH_KEY), cfg.chunk_size), summary.kinds, cfg
    )
    assert_same_counts(cs_parts, cs_whole)
    rep_parts, rep_whole = evaluate_drift(summary, cs_parts, cfg), evaluate_drift(summary, cs_whole, cfg)
    # token_js's p-value is a permutation test on a document sample; partitions draw theirs from
    # streams of their own, so only its statistic (from the term counts) is the same
    assert_same_statistics(rep_parts, rep_whole, skip={("t", "token_js")})
    assert close(rep_parts.columns["t"].tests["token_js"].statistic, rep_whole.columns["t"].tests["token_js"].statistic)
    assert rep_parts.drifted  # the window shifts: the statistics compared are not all trivial
    assert rep_parts.columns["x"].status == "drift"


def test_dask_equals_local_on_every_test(client, window, summary, cfg):
    parts, _, _ = window
    local = summarize_partitioned(summary, parts, cfg)
    with open_engine(client=client) as engine:
        assert engine.kind == "dask"
        on_dask = summarize_partitioned(summary, parts, cfg, engine)
    assert_same_counts(on_dask, local)
    pd.testing.assert_frame_equal(on_dask.sample, local.sample)  # the classifier's row sample too
    rep_dask, rep_local = evaluate_drift(summary, on_dask, cfg), evaluate_drift(summary, local, cfg)
    assert_same_statistics(rep_dask, rep_local)
    assert rep_dask.to_dict() == rep_local.to_dict()  # in fact to the last bit: same maps, same merge order
    assert rep_dask.multivariate is not None and "auc" in rep_dask.multivariate


def test_a_data_error_in_a_task_is_raised_as_itself_naming_the_file(client, window, summary, cfg, tmp_path):
    parts, _, _ = window
    bad = tmp_path / "bad" / "day=1"
    bad.mkdir(parents=True)
    pd.read_parquet(parts / "day=1" / "part-0.parquet").drop(columns="c").to_parquet(bad / "part-0.parquet")
    with (
        open_engine(client=client) as engine,
        pytest.raises(DataError, match=r"part-0\.parquet lacks column\(s\) \['c'\]"),
    ):
        summarize_partitioned(summary, bad.parent, cfg, engine)


def _dies(partition, marker_dir, index, once, **shared):
    """The map, except that the task of partition ``index`` kills its worker process mid-task: on its
    first attempt only (``once``; the marker file says it happened) or on every attempt."""
    if partition.index == index:
        marker = Path(marker_dir) / f"attempt-{time.time_ns()}"
        if not once or not any(Path(marker_dir).iterdir()):
            marker.touch()
            time.sleep(0.2)  # mid-task: the partition is being worked on when its worker goes
            os._exit(1)
    return summarize_partition(partition, **shared)


def _run_with_fault(client, window, summary, cfg, marker_dir, once):
    parts = dataset_partitions(window[0])
    columns = list(summary.columns)
    with open_engine(client=client) as engine:
        return map_merge(
            parts,
            partial(_dies, marker_dir=str(marker_dir), index=2, once=once),
            partial(merge_current, max_rows=sampling(cfg)[1]),
            engine,
            shared={"reference": summary, "columns": columns, "cfg": cfg},
        )


def _worker_pids(client) -> set[int]:
    client.wait_for_workers(2, timeout=60)
    return set(client.run(os.getpid).values())


def test_a_worker_killed_mid_task_is_retried_and_the_result_is_still_correct(client, window, summary, cfg, tmp_path):
    before = _worker_pids(client)
    cs = _run_with_fault(client, window, summary, cfg, tmp_path, once=True)
    assert len(list(tmp_path.iterdir())) == 1  # the fault happened, once
    assert _worker_pids(client) != before  # a worker process really died (the nanny started another)
    local = summarize_partitioned(summary, window[0], cfg)
    assert_same_counts(cs, local)
    assert evaluate_drift(summary, cs, cfg).to_dict() == evaluate_drift(summary, local, cfg).to_dict()


def test_a_partition_whose_worker_always_dies_fails_with_an_error_naming_it(client, window, summary, cfg, tmp_path):
    with pytest.raises(EngineError, match=r"Partition 2 \(Partition\(index=2, path='[^']*day=2/part-0\.parquet'"):
        _run_with_fault(client, window, summary, cfg, tmp_path, once=False)
    assert len(list(tmp_path.iterdir())) == 2  # allowed-failures = 1: the second death fails it
    _worker_pids(client)  # and the cluster is still usable


def test_map_merge_merges_in_item_order_on_both_engines(client):
    items = list(range(12))
    slow_first = partial(_sleepy_square)
    with open_engine(client=client) as engine:
        on_dask = map_merge(items, slow_first, _concat, engine)
    assert on_dask == map_merge(items, slow_first, _concat) == [i * i for i in items]


def _sleepy_square(i: int) -> list[int]:
    time.sleep(0.3 if i == 0 else 0.0)  # the first item finishes last
    return [i * i]


def _concat(a: list[int], b: list[int]) -> list[int]:
    return a + b


def test_engine_config_refuses_credentials_and_unknown_kinds():
    assert EngineConfig.from_dict({}) == EngineConfig()
    assert EngineConfig().kind == "local"
    with pytest.raises(ConfigError, match=r"engine\.address holds credentials \(tcp://alice:\*\*\*@"):
        EngineConfig.from_dict({"kind": "dask", "address": "tcp://alice:s3cret@10.0.0.5:8786"})
    with pytest.raises(ConfigError, match=r"engine\.kind must be one of"):
        EngineConfig.from_dict({"kind": "spark"})


def test_no_scheduler_at_the_address_is_an_engine_error_naming_it():
    cfg = EngineConfig.from_dict({"kind": "dask", "address": "tcp://127.0.0.1:9", "connect_timeout": 2})
    with pytest.raises(EngineError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:9"), open_engine(cfg):
        pass


def test_an_fsspec_url_is_read_as_the_same_partitions(window, summary, cfg):
    """Object storage goes through fsspec (here its in-memory filesystem, read in this process):
    the same files under a URL give the same partitions, hive keys and summaries."""
    import fsspec

    parts, _, _ = window
    fs = fsspec.filesystem("memory")
    for f in parts.rglob("*.parquet"):
        fs.pipe(f"memory://window-{id(window)}/{f.relative_to(parts).as_posix()}", f.read_bytes())
    url = f"memory://window-{id(window)}"
    remote, local = dataset_partitions(url), dataset_partitions(parts)
    assert [p.keys for p in remote] == [p.keys for p in local]
    assert all(p.path.startswith("memory://") for p in remote)
    assert_same_counts(summarize_partitioned(summary, url, cfg), summarize_partitioned(summary, parts, cfg))
    with pytest.raises(DataError, match=r"nosuchprotocol://x cannot be opened through fsspec"):
        dataset_partitions("nosuchprotocol://x")


@pytest.fixture(scope="module")
def models(window):
    """A champion and a challenger fitted on the reference (real scikit-learn models; pd.NA in X). On
    ``n`` only: ``x`` holds infinities, which scikit-learn refuses to score."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from driftloop.batches import plain_missing

    ref = window[2]
    X = plain_missing(ref[["n"]])
    champion = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, ref["y"])
    challenger = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, ref["y"])
    return {"champion": champion, "challenger": challenger}


def test_scoring_per_partition_equals_scoring_the_whole_window(client, window, models):
    parts, whole, _ = window
    schema = Schema(id="uid", timestamp="ts", label="y", numeric=("n",))
    whole_df = pd.read_parquet(whole)
    kept_local, local = score_partitioned(models, parts, schema, keep=["uid", "y"], chunk_size=1000)
    with open_engine(client=client) as engine:
        kept, on_dask = score_partitioned(models, parts, schema, engine, keep=["uid", "y"], chunk_size=1000)
    pd.testing.assert_frame_equal(kept, kept_local)
    assert kept["uid"].tolist() == whole_df["uid"].tolist()  # partition order is the whole file's row order
    for name, model in models.items():
        assert on_dask[name].classes == local[name].classes == ("neg", "pos")
        assert np.array_equal(on_dask[name].pred, local[name].pred)
        assert np.array_equal(on_dask[name].proba, local[name].proba)
        direct = predict_outputs(model, whole_df, schema, name=name)  # one call on every row at once
        assert np.array_equal(on_dask[name].pred, direct.pred)
        np.testing.assert_allclose(on_dask[name].proba, direct.proba, rtol=0, atol=1e-12)
    assert (on_dask["champion"].pred != on_dask["challenger"].pred).any()  # two models, really scored apart


def assert_same_tree(a, b, where="") -> None:
    """Two summary trees (``to_tree``) equal: arrays element for element (NaN equal to NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same_tree(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, where


def test_the_reference_summarised_column_by_column_equals_the_whole_frame_summary(client, window, cfg):
    parts, whole, _ = window
    expected = summarize_reference(pd.read_parquet(whole), KINDS_WITH_KEY, cfg)
    local = summarize_reference_partitioned(parts, KINDS_WITH_KEY, cfg)
    with open_engine(client=client) as engine:
        on_dask = summarize_reference_partitioned(parts, KINDS_WITH_KEY, cfg, engine)
    assert len(expected.sample) == cfg.multivariate.max_rows < expected.n_rows  # the sample is a draw
    for got in (local, on_dask):
        assert got.n_rows == expected.n_rows and got.kinds == expected.kinds
        assert_same_tree(got.to_tree(), expected.to_tree())


def _strata(df: pd.DataFrame) -> pd.Series:
    return df["y"] + "|" + pd.to_datetime(df["ts"], utc=True).dt.floor("D").astype(str)


def test_the_training_sample_is_stratified_by_label_and_day_and_the_same_on_both_engines(client, window):
    parts, whole, _ = window
    whole_df = pd.read_parquet(whole)
    local = training_sample(parts, 1000, "y", "ts", ["uid", "n"], period="D", seed=3)
    with open_engine(client=client) as engine:
        on_dask = training_sample(parts, 1000, "y", "ts", ["uid", "n"], engine, period="D", seed=3)
    pd.testing.assert_frame_equal(on_dask, local)
    assert list(local.columns) == ["uid", "n", "y", "ts"]
    assert len(local) == 1000 and local["uid"].is_unique and set(local["uid"]) <= set(whole_df["uid"])
    assert (np.diff(pd.Index(whole_df["uid"]).get_indexer(local["uid"])) > 0).all()  # in window order
    population = _strata(whole_df).value_counts()
    assert len(population) >= 8  # two labels x several days: the strata are not trivial
    got = _strata(local).value_counts().reindex(population.index, fill_value=0)
    assert ((got - population * 1000 / len(whole_df)).abs() < 1).all()  # each its share, to the row
    other = training_sample(parts, 1000, "y", "ts", ["uid", "y", "ts"], seed=4)
    assert set(other["uid"]) != set(local["uid"])  # another seed, other rows, the same shares
    assert _strata(other).value_counts().sort_index().equals(_strata(local).value_counts().sort_index())
    everything = training_sample(parts, 10**9, "y", "ts", ["uid"])
    assert everything["uid"].tolist() == whole_df["uid"].tolist()  # a size above the window: all of it


def test_incremental_fitting_sees_every_labelled_row_once_and_learns(window, tmp_path):
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    from driftloop.engine import fit_incremental
    from driftloop.errors import ModelError

    rng = np.random.default_rng(0)
    frames = []
    for k in range(3):
        x = rng.normal(size=(1500, 2))
        y = np.where(x[:, 0] - x[:, 1] > 0, "pos", "neg").astype(object)
        y[:50] = None  # unlabelled rows are left out
        frames.append(pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y}))
        (tmp_path / f"k={k}").mkdir()
        frames[-1].to_parquet(tmp_path / f"k={k}" / "part.parquet")
    whole = pd.concat(frames, ignore_index=True).dropna()
    model = fit_incremental(SGDClassifier(random_state=0), tmp_path, ["a", "b"], "y", ["neg", "pos"], chunk_size=700)
    assert model.t_ == len(whole) + 1  # sklearn counts the samples seen, from 1: each labelled row once
    assert model.score(whole[["a", "b"]], whole["y"]) > 0.9
    with pytest.raises(ModelError, match="Pipeline has no partial_fit"):
        fit_incremental(make_pipeline(SGDClassifier()), tmp_path, ["a", "b"], "y", ["neg", "pos"])
    with pytest.raises(ModelError, match=r"partial_fit failed on .*day=1/part-0\.parquet: Input X contains NaN"):
        fit_incremental(SGDClassifier(), window[0], ["n"], "y", classes=["neg", "pos"])


def test_validation_per_partition_checks_every_row_as_the_snapshot_does(client, window, tmp_path):
    from driftloop.batches import coerce, window_summary
    from driftloop.engine import validate_partitioned

    parts, whole, _ = window
    schema = Schema(
        id="uid",
        timestamp="ts",
        label="y",
        numeric=("n",),
        categorical=("c", "cat"),
        text=("t",),
        classes=("neg", "pos"),
    )
    expected = window_summary(coerce(pd.read_parquet(whole), schema, "whole"), schema)
    with open_engine(client=client) as engine:
        assert validate_partitioned(parts, schema, engine, chunk_size=1000) == expected
    assert validate_partitioned(parts, schema, chunk_size=1000) == expected
    bad = tmp_path / "day=9"
    bad.mkdir()
    rows = pd.read_parquet(parts / "day=3" / "part-1.parquet")
    rows["ts"] = rows["ts"].astype(str)
    rows.loc[rows.index[1203], "ts"] = "not a time"  # the file keeps its pandas index (2500...)
    rows.to_parquet(bad / "part-0.parquet")
    message = (
        r"day=9/part-0\.parquet \(rows 1201-1500; .*\): column 'ts' has 1 value\(s\) that are not timestamps \(row 4\)"
    )
    with open_engine(client=client) as engine, pytest.raises(DataError, match=message):
        validate_partitioned(tmp_path, schema, engine, chunk_size=300)
    with pytest.raises(DataError, match=r"label\(s\) \['neg'\] outside data.schema.classes"):
        validate_partitioned(parts, dataclasses.replace(schema, classes=("pos",)))
