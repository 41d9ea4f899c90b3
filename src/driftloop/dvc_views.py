"""`dvc plots` without a network: the page DVC writes loads Vega from a CDN and is blank offline.

Two ways round it, both from the ``vl-convert-python`` package (a wheel that ships Vega, Vega-Lite
and Vega-Embed compiled in; installed with driftloop's ``dev`` extra), nothing vendored in git:

- ``python -m driftloop.dvc_views template .dvc/tmp/offline.html`` writes an HTML template with the
  three libraries inlined (about 0.9 MB); ``dvc plots show --html-template .dvc/tmp/offline.html``
  (or ``diff``) then writes a page that needs no network. The template has no ``{scripts}``
  placeholder, so DVC's CDN tags are left out.
- ``dvc plots show --json | python -m driftloop.dvc_views svg DIR`` renders each plot to
  ``DIR/<plot>.svg`` (for CI artifacts, a terminal without a browser, or a review).

A leaf module: no stage imports it. README "Read cycles in DVC" has the recipes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from driftloop.errors import ConfigError

__all__ = ["VL_VERSION", "main", "offline_template", "render_svgs", "vega_specs"]

#: DVC's templates (dvc-render 1.x) are Vega-Lite 5 specs (the confusion template still uses the
#: v5 ``selection`` syntax), so the bundle and the renderer are held at the last 5.x vl-convert has.
VL_VERSION = "5.21"

_PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots (offline)</title>
    <script type="text/javascript">
{bundle}
    </script>
    <style>table { border-spacing: 15px; }</style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def _vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError as exc:  # an optional tool: say how to get it
        raise ConfigError(
            "driftloop.dvc_views needs the vl-convert-python package (it ships Vega offline): "
            "pip install vl-convert-python (or driftloop's dev extra)."
        ) from exc
    return vl_convert


def offline_template(bundle: str) -> str:
    """A DVC ``--html-template`` page with ``bundle`` (the Vega libraries' JavaScript) inlined.

    DVC fills ``{plot_divs}`` (and ``{refresh_tag}``); without ``{scripts}`` it adds no CDN tags.

    Examples
    --------
    >>> page = offline_template("window.vegaEmbed = function () {};")
    >>> "{plot_divs}" in page, "{scripts}" in page, "cdn" in page
    (True, False, False)
    """
    # str.replace, not format: the bundle is full of braces.
    return _PAGE.replace("{bundle}", bundle)


def vega_specs(plots: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Vega-Lite specs of ``dvc plots show --json`` (or ``diff --json``), as (plot id, spec).

    Image plots are skipped: they are files already.

    Examples
    --------
    >>> vega_specs({"data": {"roc": [{"type": "vega", "content": {"mark": "line"}}],
    ...                      "a.png": [{"type": "image", "url": "a.png"}]}})
    [('roc', {'mark': 'line'})]
    """
    out = []
    for name, entries in (plots.get("data") or {}).items():
        for entry in entries:
            if entry.get("type") == "vega" and isinstance(entry.get("content"), dict):
                out.append((str(name), entry["content"]))
    return out


def _file_name(plot_id: str) -> str:
    # A plot id may be a path (reports/drift_columns.csv): one flat, readable name per plot.
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", plot_id).strip("_") + ".svg"


def render_svgs(plots: Mapping[str, Any], out_dir: Path, vl_version: str = VL_VERSION) -> list[Path]:
    """Render every Vega plot of ``dvc plots show --json`` output to ``out_dir/<plot id>.svg``.

    Raises
    ------
    ConfigError
        When vl-convert-python is not installed, or the JSON holds no Vega plot (its ``errors``
        are quoted).
    """
    vlc = _vl_convert()
    specs = vega_specs(plots)
    if not specs:
        raise ConfigError(f"no vega plot in the `dvc plots --json` output; its errors: {plots.get('errors')!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in specs:
        path = out / _file_name(name)
        path.write_text(vlc.vegalite_to_svg(spec, vl_version=vl_version), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m driftloop.dvc_views template PATH`` | ``... svg DIR`` (the JSON on stdin)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("template", "svg"):
        print(
            "usage: python -m driftloop.dvc_views template PATH\n"
            "       dvc plots show --json | python -m driftloop.dvc_views svg DIR",
            file=sys.stderr,
        )
        return 2
    try:
        if args[0] == "template":
            path = Path(args[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(offline_template(_vl_convert().javascript_bundle(vl_version=VL_VERSION)), encoding="utf-8")
            print(f"wrote {path}: dvc plots show --html-template {path}")
        else:
            for written in render_svgs(json.load(sys.stdin), Path(args[1])):
                print(written)
    except (ConfigError, json.JSONDecodeError) as exc:
        print(f"driftloop.dvc_views: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
