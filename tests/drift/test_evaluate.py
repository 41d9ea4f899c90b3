"""evaluate_drift end to end: drift.json format, metrics, chunking, summary files, bad input, extras."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from driftloop.drift import (
    DriftConfig,
    ModelOutputs,
    ReferenceSummary,
    evaluate_drift,
    render_html,
    summarize_reference,
)
from driftloop.errors import DataError

from .conftest import KINDS

FAST = DriftConfig.from_dict({"multivariate": {"enabled": False}})


@pytest.fixture(scope="module")
def summary(demo_ref):
    return summarize_reference(demo_ref, KINDS, FAST)


def _check_format(d):
    json.dumps(d, allow_nan=False)
    ds = d["dataset"]
    assert isinstance(ds["drifted"], bool) and isinstance(ds["share_drifted"], float)
    assert isinstance(ds["n_reference"], int) and isinstance(ds["n_current"], int)
    for col in d["columns"].values():
        assert col["kind"] in ("numeric", "categorical", "text") and isinstance(col["drifted"], bool)
        assert set(col["missing_rate"]) == {"reference", "current"}
        for t in col["tests"].values():
            assert {"statistic", "p_value", "threshold", "drifted"} <= set(t)


def test_no_drift_on_same_distribution(summary, demo_same):
    rep = evaluate_drift(summary, demo_same, FAST)
    assert not rep.drifted and rep.drifted_columns == []
    _check_format(rep.to_dict())


def test_demo_drift_flags_the_right_columns(summary, demo_drift):
    rep = evaluate_drift(summary, demo_drift, FAST)
    assert rep.drifted
    assert set(rep.drifted_columns) == {"comment", "comment_length", "channel"}
    d = rep.to_dict()
    _check_format(d)
    new_terms = {t["term"] for t in d["columns"]["comment"]["terms"]["new"]}
    assert {"copilot", "subscription", "tier", "glitchy", "sync"} <= new_terms


def test_metrics_keys_are_stable_and_mlflow_safe(summary, demo_same, demo_drift):
    m1 = evaluate_drift(summary, demo_same, FAST).metrics()
    m2 = evaluate_drift(summary, demo_drift, FAST).metrics()
    assert m1.keys() == m2.keys()
    for k in (
        "drift.share_drifted",
        "drift.n_drifted",
        "drift.stars.ks",
        "drift.stars.psi",
        "drift.stars.missing_rate",
        "drift.comment.token_js",
        "drift.channel.chi2.p_adjusted",
    ):
        assert k in m1
    assert all(re.fullmatch(r"[0-9A-Za-z_\-./ ]+", k) for k in m1)
    assert all(isinstance(v, float) and np.isfinite(v) for v in m1.values())


def test_chunked_equals_whole(summary, demo_drift):
    whole = evaluate_drift(summary, demo_drift, FAST).to_dict()
    chunks = (demo_drift.iloc[i : i + 700] for i in range(0, len(demo_drift), 700))
    assert evaluate_drift(summary, chunks, FAST).to_dict() == whole


def test_one_chunk_path_equals_the_chunk_by_chunk_path(summary, demo_drift):
    """A DataFrame or a one-element list takes the pipelined one-chunk path; an iterator over the
    same single chunk takes the two-phase path. Same sample, so the same report, classifier included."""
    cfg = DriftConfig.from_dict({"multivariate": {"n_permutations": 200}})
    streamed = evaluate_drift(summary, iter([demo_drift]), cfg).to_dict()
    assert streamed["multivariate"]["n_current"] > 0
    assert evaluate_drift(summary, demo_drift, cfg).to_dict() == streamed
    assert evaluate_drift(summary, [demo_drift], cfg).to_dict() == streamed
    with pytest.raises(DataError, match="channel"):
        evaluate_drift(summary, [demo_drift.drop(columns=["channel"])], cfg)


def test_summary_roundtrip(tmp_path, summary, demo_drift):
    path = summary.save(tmp_path / "reference_summary.npz")
    with np.load(path, allow_pickle=False) as z:  # plain numpy can open it: JSON structure + two blobs
        tree = json.loads(z["tree"].tobytes())
        assert sorted(z.files) == ["f8", "i8", "tree"] and tree["format_version"] == 3
    loaded = ReferenceSummary.load(path)
    assert evaluate_drift(loaded, demo_drift, FAST).to_dict() == evaluate_drift(summary, demo_drift, FAST).to_dict()
    assert summary.save(tmp_path / "any.name").exists()  # written at exactly the given path


def _format1(tree):
    """A summary tree as format 1 wrote it: arrays as base64 dicts, sample columns as lists."""
    if isinstance(tree, np.ndarray):
        dtype = "<i8" if tree.dtype.kind == "i" else "<f8"
        return {"dtype": dtype, "n": int(tree.size), "b64": base64.b64encode(tree.astype(dtype).tobytes()).decode()}
    if isinstance(tree, dict):
        return {k: _format1(v) for k, v in tree.items()}
    return tree


def test_summary_format1_still_loads(tmp_path, summary, demo_drift):
    tree = summary.to_tree()
    sample = {
        c: [None if isinstance(v, float) and np.isnan(v) else v for v in np.asarray(col).tolist()]
        for c, col in tree.pop("sample").items()
    }
    old = {**_format1(tree), "format_version": 1, "sample": sample}
    for c, v in tree["columns"].items():  # level and term counts were plain JSON lists
        if "counts" in v:
            old["columns"][c]["counts"] = v["counts"].tolist()
    path = tmp_path / "reference_summary.json"
    path.write_text(json.dumps(old))
    loaded = ReferenceSummary.load(path)
    assert evaluate_drift(loaded, demo_drift, FAST).to_dict() == evaluate_drift(summary, demo_drift, FAST).to_dict()


@pytest.mark.parametrize(
    "content",
    [b"not a summary", b"PK\x03\x04 truncated zip", b'{"format_version": 9}'],
    ids=["text", "broken-zip", "unknown-version"],
)
def test_unreadable_summary_names_the_file(tmp_path, content):
    path = tmp_path / "reference_summary.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"reference_summary\.npz|format_version 9"):
        ReferenceSummary.load(path)


def test_column_subset_and_errors(summary, demo_drift):
    rep = evaluate_drift(summary, demo_drift, FAST, columns=["stars", "channel"])
    assert list(rep.columns) == ["stars", "channel"] and rep.drifted_columns == ["channel"]
    with pytest.raises(DataError, match="nope"):
        evaluate_drift(summary, demo_drift, FAST, columns=["nope"])
    with pytest.raises(DataError, match="channel"):
        evaluate_drift(summary, demo_drift.drop(columns=["channel"]), FAST)
    with pytest.raises(DataError, match="ghost"):
        summarize_reference(demo_drift, {"ghost": "numeric"}, FAST)


def test_bad_input_has_defined_outcomes():
    rng = np.random.default_rng(0)
    n = 2000
    ref = pd.DataFrame(
        {
            "all_nan": np.full(n, np.nan),
            "const": np.full(n, 7.0),
            "with_inf": rng.normal(size=n),
            "many": [f"u{i}" for i in range(n)],
            "txt": ["fine words here"] * n,
            "x": rng.normal(size=n),
        }
    )
    cur_inf = rng.normal(size=n)
    cur_inf[:100] = np.inf
    bad_text = np.array(["fine words here"] * n, dtype=object)
    bad_text[:5] = b"caf\xe9 \xff broken"
    bad_text[5] = "lone \udc80 surrogate"
    cur = pd.DataFrame(
        {
            "all_nan": np.full(n, np.nan),
            "const": np.full(n, 7.0),
            "with_inf": cur_inf,
            "many": [f"v{i}" for i in range(100_000)][:n],
            "txt": bad_text,
            "x": rng.normal(size=n),
        }
    )
    kinds = {
        "all_nan": "numeric",
        "const": "numeric",
        "with_inf": "numeric",
        "many": "categorical",
        "txt": "text",
        "x": "numeric",
    }
    s = summarize_reference(ref, kinds, FAST)
    rep = evaluate_drift(s, cur, FAST)
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["columns"]["all_nan"]["tests"]["ks"]["statistic"] is None
    assert "no finite reference values" in d["columns"]["all_nan"]["notes"]
    assert d["columns"]["all_nan"]["status"] == "no values" and d["dataset"]["untested_columns"] == {
        "all_nan": "no values"
    }
    assert not d["columns"]["const"]["drifted"] and d["columns"]["const"]["status"] == "no drift"
    assert any(n.startswith("constant in the reference (7)") for n in d["columns"]["const"]["notes"])
    assert d["columns"]["with_inf"]["n_inf"] == {"reference": 0, "current": 100}
    assert d["columns"]["with_inf"]["drifted"]  # 5% non-finite is a missing-rate drift
    lv = d["columns"]["many"]["levels"]
    assert lv["n_unseen"] == n and len(lv["unseen"]) == 20
    # all-distinct values are an id: that every current value is new is what its reference predicts
    assert d["columns"]["many"]["kind"] == "id_like" and not d["columns"]["many"]["drifted"]
    assert d["columns"]["txt"]["n_invalid_utf8"]["current"] == 6
    render_html(rep)

    # no rows is refused, not reported as "no drift"; in one piece, in chunks or as no chunk at all
    for empty in (cur.iloc[:0], [cur.iloc[:0]], iter([cur.iloc[:0], cur.iloc[:0]]), iter([])):
        with pytest.raises(DataError, match="current window has 0 rows"):
            evaluate_drift(s, empty, FAST)
    with pytest.raises(DataError, match="reference has 0 rows"):
        evaluate_drift(summarize_reference(ref.iloc[:0], kinds, FAST), cur, FAST)


def test_hundred_thousand_categories_are_bucketed():
    ref = pd.DataFrame({"c": [f"k{i}" for i in range(100_000)]})
    cur = pd.DataFrame({"c": [f"k{i}" for i in range(50_000, 150_000)]})
    cfg = DriftConfig.from_dict(
        {"multivariate": {"enabled": False}, "categorical": {"track_max": 100_000}, "columns": {"c": "categorical"}}
    )  # else found near-unique: id_like
    rep = evaluate_drift(summarize_reference(ref, {"c": "categorical"}, cfg), cur, cfg)
    col = rep.to_dict()["columns"]["c"]
    assert col["tests"]["chi2"]["details"]["n_table_levels"] == 1  # every level under min_expected: __other__
    assert col["levels"]["n_unseen"] == 50_000 and col["levels"]["n_vanished"] == 50_000


def test_model_outputs_sections(summary, demo_same):
    rng = np.random.default_rng(1)
    classes = ["negative", "neutral", "positive"]
    n = 3000

    def side(conc):
        # labels drawn from the probabilities: calibrated by construction
        p = rng.dirichlet(conc, size=n)
        y = (rng.random(n)[:, None] > np.cumsum(p, 1)).sum(1)
        return np.array(classes)[y], np.array(classes)[p.argmax(1)], p

    ry, rp, rproba = side([0.3, 0.3, 0.3])
    cy, cp, cproba = side([1.5, 0.6, 0.6])  # covariate shift: less confident, more "negative"
    cy_concept = rng.permutation(cy)  # concept drift: labels no longer follow the features
    rep = evaluate_drift(summary, demo_same, FAST, model_outputs=ModelOutputs(classes, rp, rproba, cp, cproba, ry, cy))
    d0 = rep.to_dict()
    # CBPE holds without concept drift: estimate ~ realised accuracy on both windows
    assert d0["performance_estimate"]["current"]["accuracy"] == pytest.approx(d0["concept"]["current"], abs=0.03)
    mo = ModelOutputs(classes, rp, rproba, cp, cproba, ry, cy_concept)
    rep = evaluate_drift(summary, demo_same, FAST, model_outputs=mo)
    d = rep.to_dict()
    assert d["output"]["tests"]["prediction_chi2"]["drifted"] and d["output"]["tests"]["confidence_ks"]["drifted"]
    c = d["concept"]
    assert c["drifted"] and c["delta"] < 0 and c["ci95"][0] < c["delta"] < c["ci95"][1] < 0
    est = d["performance_estimate"]
    assert "calibrated" in est["assumption"]
    assert est["current"]["accuracy"] > c["current"] + 0.05  # ... and is blind to concept drift, as stated
    assert est["reference_check"]["accuracy"]["estimated"] == pytest.approx(c["reference"], abs=0.03)
    assert "drift.concept.delta" in rep.metrics()
    with pytest.raises(DataError, match="not among the classes"):
        evaluate_drift(summary, demo_same, FAST, model_outputs=ModelOutputs(classes, ["bogus"] * n, None, cp, None))


def test_domain_classifier(demo_ref, demo_same, demo_drift):
    cfg = DriftConfig.from_dict({"multivariate": {"max_rows": 1000}})
    s = summarize_reference(demo_ref, KINDS, cfg)
    quiet = evaluate_drift(s, demo_same, cfg).multivariate
    loud = evaluate_drift(s, demo_drift, cfg).multivariate
    assert not quiet["drifted"] and quiet["auc"] < 0.6
    assert loud["drifted"] and loud["auc"] > 0.8 and loud["p_value"] == pytest.approx(1 / 1001)
    assert loud["top_features"][0]["column"] == "comment"


def test_html_is_self_contained(summary, demo_drift):
    html = render_html(evaluate_drift(summary, demo_drift, FAST))
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script>" in html
    assert not re.search(r"(src|href)=['\"]https?:", html)
    assert "copilot" in html and "DRIFT DETECTED" in html


def test_drift_stage_reads_a_format1_summary_until_the_next_snapshot(tmp_path):
    from driftloop import paths
    from driftloop.drift_files import reference_summary_path

    (tmp_path / paths.SUMMARY_DIR).mkdir(parents=True)
    assert reference_summary_path(tmp_path) == tmp_path / paths.REFERENCE_SUMMARY  # neither: the .npz is named
    (tmp_path / paths.LEGACY_REFERENCE_SUMMARY).write_text("{}")
    assert reference_summary_path(tmp_path) == tmp_path / paths.LEGACY_REFERENCE_SUMMARY
    (tmp_path / paths.REFERENCE_SUMMARY).write_bytes(b"")
    assert reference_summary_path(tmp_path) == tmp_path / paths.REFERENCE_SUMMARY


def test_a_column_named_like_the_array_placeholder_round_trips(tmp_path):
    df = pd.DataFrame({"__array__": np.arange(50.0)})
    summary = summarize_reference(df, {"__array__": "numeric"})
    loaded = ReferenceSummary.load(summary.save(tmp_path / "s.npz"))
    assert loaded.kinds == {"__array__": "numeric"}
    assert evaluate_drift(loaded, df, FAST).to_dict() == evaluate_drift(summary, df, FAST).to_dict()


def test_mixed_type_categorical_sample_keeps_level_names_on_disk(tmp_path):
    """2.0 and 2 are one level ("2") on the current side; the stored reference sample must say "2"
    too, or the domain classifier sees a difference the in-memory summary does not."""
    rng = np.random.default_rng(0)
    values = np.array([1, "1", 2.0, None, True], dtype=object)
    ref = pd.DataFrame({"c": values[rng.integers(0, 5, 400)], "x": rng.normal(size=400)})
    cur = pd.DataFrame({"c": values[rng.integers(0, 5, 400)], "x": rng.normal(size=400)})
    kinds = {"c": "categorical", "x": "numeric"}
    cfg = DriftConfig.from_dict({"multivariate": {"n_permutations": 200}})
    summary = summarize_reference(ref, kinds, cfg)
    loaded = ReferenceSummary.load(summary.save(tmp_path / "s.npz"))
    in_memory = evaluate_drift(summary, cur, cfg).to_dict()["multivariate"]
    from_disk = evaluate_drift(loaded, cur, cfg).to_dict()["multivariate"]
    assert from_disk["auc"] == pytest.approx(in_memory["auc"]) and not from_disk["drifted"]


def test_equal_values_of_different_types_stay_separate_levels():
    """pandas counts 1, 1.0 and True as one value, named after whichever comes first: the reference
    (1 first) and the current batch (True first) would name the same mass "1" and "True", a false
    vanished + unseen pair. Each value is named first, so they are levels "1" and "True" on both sides."""
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"c": np.array([1, True, 1.0, "a"], dtype=object)[rng.integers(0, 4, 2000)]})
    cur = pd.DataFrame({"c": np.array([True, 1, 1.0, "a"], dtype=object)[rng.integers(0, 4, 2000)]})
    ref.loc[0, "c"], cur.loc[0, "c"] = 1, True
    summary = summarize_reference(ref, {"c": "categorical"})
    col = evaluate_drift(summary, cur, FAST).to_dict()["columns"]["c"]
    levels = col["levels"]
    assert levels["n_unseen"] == 0 and levels["n_vanished"] == 0, levels
    assert set(summary.columns["c"].counts.index) == {"1", "True", "a"} and not col["drifted"]
