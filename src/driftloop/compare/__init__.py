"""Champion/challenger comparison on the same holdout, with paired uncertainty (issue 4).

Public entry points::

    from driftloop.compare import CompareConfig, compare_models, predict_outputs, load_model, write_plots

MLflow and matplotlib are imported lazily, only by the functions that need them.
"""

from driftloop.compare.comparison import ComparisonResult, MetricComparison, compare_models, compare_predictions
from driftloop.compare.config import CompareConfig
from driftloop.compare.predict import LoadedModel, Predictions, load_model, predict_outputs


def write_plots(result, out_dir):
    from driftloop.compare.plots import write_plots as _write_plots

    return _write_plots(result, out_dir)


__all__ = [
    "CompareConfig",
    "ComparisonResult",
    "LoadedModel",
    "MetricComparison",
    "Predictions",
    "compare_models",
    "compare_predictions",
    "load_model",
    "predict_outputs",
    "write_plots",
]
