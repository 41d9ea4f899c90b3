"""Self-contained HTML drift report: inline CSS, inline SVG charts, a few lines of inline JS.

No CDN, no external file: the page opens offline and from MLflow's artifact view. Every value
coming from data (column names, levels, terms) is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px} h3{font-size:15px;margin:18px 0 6px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;display:inline-block}
.bad{background:#fde2e1;color:#9b1c1c} .good{background:#def7e5;color:#14532d} .unknown{background:#fff7e0;color:#92400e}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f5;cursor:pointer;user-select:none} td:first-child,th:first-child{text-align:left}
tr.drift td{background:#fff5f5} .muted{color:#666;font-size:12px} .col{border-top:1px solid #eee;margin-top:14px}
.untested{background:#fff7e0;border-left:3px solid #d97706;padding:6px 10px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
 var t=th.closest('table'),b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
 rows.sort(function(a,c){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent;
  var nx=parseFloat(x),ny=parseFloat(y);var r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?r:-r;});
 rows.forEach(function(r){b.appendChild(r);});});});
"""
REF_COLOR, CUR_COLOR = "#6b8fd6", "#e0823d"


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return escape(str(v))


def bars_svg(labels: list[str], ref: list[float], cur: list[float], width: int = 560, height: int = 170) -> str:
    """Grouped bar chart (reference vs current proportions) as inline SVG."""
    if not labels:
        return ""
    n = len(labels)
    top = max(max(ref or [0]), max(cur or [0]), 1e-12)
    pad_l, pad_b = 34, 46
    w = (width - pad_l) / n
    bw = max(w * 0.38, 1.0)
    h = height - pad_b - 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="{pad_l}" y1="{8 + h}" x2="{width}" y2="{8 + h}" stroke="#999"/>',
        f'<text x="2" y="14" font-size="10">{top:.2f}</text>',
    ]
    for i, (lab, r, c) in enumerate(zip(labels, ref, cur, strict=False)):
        x = pad_l + i * w + w * 0.1
        for j, (v, col) in enumerate(((r, REF_COLOR), (c, CUR_COLOR))):
            bh = h * (v / top)
            parts.append(
                f'<rect x="{x + j * bw:.1f}" y="{8 + h - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                f'fill="{col}"><title>{escape(str(lab))}: {"reference" if j == 0 else "current"} {v:.4f}</title></rect>'
            )
        short = escape(str(lab)[:14])
        parts.append(
            f'<text x="{x + bw:.1f}" y="{height - pad_b + 14}" font-size="9" text-anchor="end" '
            f'transform="rotate(-35 {x + bw:.1f} {height - pad_b + 14})">{short}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    return (
        f'<div class="legend muted"><span style="background:{REF_COLOR}"></span>reference'
        f'<span style="background:{CUR_COLOR}"></span>current</div>'
    )


def _terms_table(title: str, rows: list[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{escape(r['term'])}</td><td>{r['reference_count']}</td><td>{r['current_count']}</td>"
        f"<td>{_fmt(r['reference_per_1k'])}</td><td>{_fmt(r['current_per_1k'])}</td></tr>"
        for r in rows
    )
    return (
        f"<h3>{escape(title)}</h3><table class='sortable'><thead><tr><th>term</th><th>ref count</th>"
        f"<th>cur count</th><th>ref per 1k</th><th>cur per 1k</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _sketch_bound(test: str, details: Mapping[str, Any]) -> str:
    """A sketched KS statistic's error bound in words; "" for an exact test. The sketch can only
    read D low, so the report states how low, and the p-value at the bound."""
    if details.get("exact", True) or "statistic_upper" not in details:
        return ""
    return (
        f"{escape(test)} is computed on a {details.get('sketch_size', '?')}-point sketch of the reference: "
        f"the exact D lies in [statistic, {_fmt(details['statistic_upper'])}] "
        f"(error at most {_fmt(details['max_error'])}) and the exact p-value in "
        f"[{_fmt(details['p_value_lower'])}, p]."
    )


def _column_section(name: str, col: Mapping[str, Any]) -> str:
    status = col.get("status") or ("drift" if col["drifted"] else "no drift")
    out = [
        f"<div class='col' id='col-{escape(name)}'><h3>{escape(name)} <span class='muted'>({col['kind']}"
        f", {escape(status)})</span></h3>"
    ]
    rows = "".join(
        f"<tr><td>{escape(t)}</td><td>{_fmt(r['statistic'])}</td><td>{_fmt(r['threshold'])}</td>"
        f"<td>{_fmt(r['p_value'])}</td><td>{_fmt(r['p_adjusted'])}</td><td>{_fmt(r['drifted'])}</td></tr>"
        for t, r in col["tests"].items()
    )
    out.append(
        "<table><thead><tr><th>test</th><th>statistic</th><th>threshold</th><th>p</th><th>p adj.</th>"
        f"<th>drifted</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    bounds = [_sketch_bound(t, r.get("details") or {}) for t, r in col["tests"].items()]
    if any(bounds):
        out.append(f"<div class='muted'>{' '.join(b for b in bounds if b)}</div>")
    h = col.get("histogram") or {}
    if h.get("labels"):
        cap = "document length (characters)" if col["kind"] == "text" else "distribution"
        out.append(f"<div class='muted'>{cap}</div>" + bars_svg(h["labels"], h["reference"], h["current"]) + _legend())
    lv = col.get("levels")
    if lv:
        out.append(
            f"<div class='muted'>unseen levels ({lv['n_unseen']}): "
            f"{escape(', '.join(f'{k} ({v})' for k, v in lv['unseen'].items())) or '–'}<br>"
            f"vanished levels ({lv['n_vanished']}): "
            f"{escape(', '.join(f'{k} ({v})' for k, v in lv['vanished'].items())) or '–'}</div>"
        )
    terms = col.get("terms")
    if terms:
        out.append(
            _terms_table("new terms", terms["new"])
            + _terms_table("rising terms", terms["rising"])
            + _terms_table("falling terms", terms["falling"])
        )
    if col.get("notes"):
        out.append(f"<div class='muted'>notes: {escape('; '.join(col['notes']))}</div>")
    out.append("</div>")
    return "".join(out)


def _untested(d: Mapping[str, Any]) -> str:
    """The incoming rows this cycle does not test (from the snapshot), shown rather than dropped."""
    sections = (("Skipped", d.get("skipped")), ("Late arrivals", d.get("late")))
    if all(sec is None for _, sec in sections):
        return ""
    parts = []
    for title, sec in sections:
        if sec and sec.get("rows"):
            unlabelled = f", {sec['unlabelled']} of them unlabelled" if sec.get("unlabelled") else ""
            parts.append(
                f"<p class='untested'><b>{title}: {sec['rows']} row(s)</b> dated {_fmt(sec.get('start'))} "
                f"to {_fmt(sec.get('end'))}{unlabelled}. {escape(sec.get('reason') or '')}</p>"
            )
    return "".join(parts) or (
        "<p class='muted'>Every incoming row newer than the reference is in the current "
        "window, and every row dated inside the reference is in it.</p>"
    )


def _reviewed(sec: Mapping[str, Any] | None) -> str:
    """The labels people returned: per predicted class, how often they disagreed with the model."""
    if not sec:
        return ""
    rows = "".join(
        f"<tr><td>{escape(str(r['predicted_class']))}</td><td>{r['reviewed']}</td><td>{r['disagreed']}</td>"
        f"<td>{_fmt(r['rate'], 3)} [{_fmt(r['low'], 3)}, {_fmt(r['high'], 3)}]</td></tr>"
        for r in sec.get("per_class") or []
    )
    parts = [
        f"<h2>Reviewed labels</h2><p>{sec['n_reviewed']} reviewed label(s); {sec['n_scored']} of them on rows of "
        f"this cycle's windows, compared with {escape(str(sec.get('model') or 'the model'))}'s predictions"
        + (
            f" ({sec['n_outside_windows']} on rows outside both windows, e.g. "
            f"{escape(', '.join(sec.get('outside_windows') or []))})."
            if sec.get("n_outside_windows")
            else "."
        )
        + "</p>"
    ]
    if rows:
        parts.append(
            "<table><thead><tr><th>predicted class</th><th>reviewed</th><th>disagreed</th>"
            f"<th>rate [{escape(str(sec.get('interval') or ''))}]</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    problems = sec.get("problems") or []
    if problems:
        shown = "".join(
            f"<li>{escape(str(p['file']))}{'' if p.get('line') is None else ', line ' + str(p['line'])}: "
            f"{escape(str(p['message']))}</li>"
            for p in problems
        )
        more = sec.get("n_problems", len(problems)) - len(problems)
        parts.append(
            f"<p class='untested'><b>{sec.get('n_problems', len(problems))} problem(s) in the returned files</b></p>"
            f"<ul>{shown}</ul>" + (f"<p class='muted'>and {more} more (drift.json).</p>" if more > 0 else "")
        )
    return "".join(parts)


def render_html(report: Any) -> str:
    """Render a :class:`~driftloop.drift.report.DriftReport` as one self-contained HTML page.

    Parameters
    ----------
    report : DriftReport

    Returns
    -------
    str
        The HTML document (UTF-8 text, no external resources).
    """
    d = report.to_dict()
    ds = d["dataset"]
    st = ds["settings"]
    word = ds.get("verdict") or ("drift" if ds["drifted"] else "no drift")
    verdict = {
        "drift": "<span class='verdict bad'>DRIFT DETECTED</span>",
        "too few rows": "<span class='verdict unknown'>TOO FEW ROWS to decide</span>",
    }.get(word, "<span class='verdict good'>no dataset drift</span>")
    test_names: list[str] = []
    for col in d["columns"].values():
        test_names += [t for t in col["tests"] if t not in test_names]
    head = "".join(f"<th>{escape(t)}</th>" for t in test_names)
    body = []
    for name, col in d["columns"].items():
        cells = "".join(
            f"<td data-v='{_fmt(col['tests'][t]['statistic']) if t in col['tests'] else ''}'>"
            f"{(_fmt(col['tests'][t]['statistic']) + (' *' if col['tests'][t]['drifted'] else '')) if t in col['tests'] else ''}</td>"
            for t in test_names
        )
        body.append(
            f"<tr class='{'drift' if col['drifted'] else ''}'><td><a href='#col-{escape(name)}'>{escape(name)}</a></td>"
            f"<td>{col['kind']}</td><td>{escape(col.get('status') or _fmt(col['drifted']))}</td>"
            f"<td>{_fmt(col['missing_rate']['reference'])}</td><td>{_fmt(col['missing_rate']['current'])}</td>{cells}</tr>"
        )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>driftloop drift report</title>",
        f"<style>{_CSS}</style></head><body><h1>Drift report</h1>",
        verdict,
        "".join(f"<p>{escape(r)}</p>" for r in ds.get("reasons") or []),
        f"<p>{ds['n_drifted']} of {ds['n_columns']} columns drifted (share {_fmt(ds['share_drifted'])}, reported "
        f"beside the verdict, not deciding it). Reference rows: {ds['n_reference']}, current rows: "
        f"{ds['n_current']}. alpha {_fmt(st.get('alpha'))} for the whole verdict: columns at "
        f"{_fmt(st.get('level_columns'))} ({escape(str(st.get('correction')))}-corrected), domain classifier at "
        f"{_fmt(st.get('level_multivariate'))}.</p>",
    ]
    untested = ds.get("untested_columns") or {}
    if untested:
        parts.append(
            f"<p class='untested'><b>Not tested: {len(untested)} column(s)</b>: "
            + escape(", ".join(f"{c} ({why})" for c, why in untested.items()))
            + f". Their values could not be compared (fewer than {_fmt(st.get('min_rows'))} on a side, "
            "or none); they count as neither drifted nor unchanged.</p>"
        )
    parts.append(
        f"<p class='muted'>{escape(st.get('rule', ''))}. Statistic cells marked * drifted. Click a header to sort.</p>"
    )
    if ds["notes"]:
        parts.append(f"<p class='muted'>{escape('; '.join(ds['notes']))}</p>")
    parts.append(_untested(d))
    parts.append(
        "<h2>Columns</h2><table class='sortable'><thead><tr><th>column</th><th>kind</th><th>status</th>"
        f"<th>missing ref</th><th>missing cur</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    mv = d.get("multivariate")
    if mv:
        parts.append("<h2>Multivariate (domain classifier)</h2>")
        if "auc" in mv:
            role = (
                "decides at its share of alpha" if st.get("level_multivariate") else "advisory: reported, not deciding"
            )
            parts.append(
                f"<p>ROC AUC {_fmt(mv['auc'])} (threshold {_fmt(mv['threshold'])}, permutation p "
                f"{_fmt(mv['p_value'])}): {'drift' if mv['drifted'] else 'no drift'} ({role}).</p>"
                f"<p class='muted'>{escape(str(mv.get('method', '')))}; AUC on {_fmt(mv.get('n_test'))} "
                "held-out rows. Importance: each column's share of the gap between the two sides' "
                "mean scores.</p>"
            )
            tf = mv.get("top_features") or []
            parts.append(
                bars_svg([f["column"] for f in tf], [f["importance"] for f in tf], [0.0] * len(tf))
                + "<div class='muted'>feature importance by column</div>"
            )
        else:
            parts.append(f"<p class='muted'>{escape(mv.get('note', ''))}</p>")
    out = d.get("output")
    if out:
        rows = "".join(
            f"<tr><td>{escape(t)}</td><td>{_fmt(r['statistic'])}</td><td>{_fmt(r['threshold'])}</td>"
            f"<td>{_fmt(r['p_adjusted'])}</td><td>{_fmt(r['drifted'])}</td></tr>"
            for t, r in out["tests"].items()
        )
        parts.append(
            "<h2>Output drift</h2><table><thead><tr><th>test</th><th>statistic</th><th>threshold</th>"
            f"<th>p adj.</th><th>drifted</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        pc = out["tests"].get("prediction_chi2")
        if pc:
            labs = list(pc["details"]["reference_share"])
            parts.append(
                bars_svg(
                    labs,
                    [pc["details"]["reference_share"][k] for k in labs],
                    [pc["details"]["current_share"][k] for k in labs],
                )
                + _legend()
            )
    con = d.get("concept")
    if con:
        parts.append(
            f"<h2>Concept drift</h2><p>{escape(con['metric'])}: reference {_fmt(con['reference'])}, current "
            f"{_fmt(con['current'])}, delta {_fmt(con['delta'])} (95% bootstrap CI {_fmt(con['ci95'][0])} to "
            f"{_fmt(con['ci95'][1])}): {'drift' if con['drifted'] else 'no drift'}.</p>"
        )
    est = d.get("performance_estimate")
    if est:
        cur = est["current"]
        parts.append(
            f"<h2>Estimated performance (CBPE)</h2><p>accuracy {_fmt(cur['accuracy'])}, macro-F1 "
            f"{_fmt(cur['f1_macro'])}.</p><p class='muted'>{escape(est['assumption'])}</p>"
        )
    parts.append(_reviewed(d.get("reviewed_labels")))
    parts.append("<h2>Per column</h2>")
    parts += [_column_section(n, c) for n, c in d["columns"].items()]
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)
