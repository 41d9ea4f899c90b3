"""Drift evaluation: reference summaries, per-column tests, corrections, verdicts, reports.

Public API::

    cfg = DriftConfig.from_dict(mapping)
    summary = summarize_reference(reference_df, kinds, cfg); summary.save(path)
    report = evaluate_drift(ReferenceSummary.load(path), current, cfg, columns=None, model_outputs=None)
    report.to_dict(); report.metrics(); report.drifted_columns; render_html(report)

The names are loaded lazily (``__init__.pyi`` lists them, :mod:`lazy_loader` reads it): the
snapshot stage, which only summarises the reference, does not import the tests and reports.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
