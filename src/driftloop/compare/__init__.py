"""Champion/challenger comparison on the same holdout, with paired uncertainty (issue 4).

Public entry points::

    from driftloop.compare import CompareConfig, compare_models, predict_outputs, load_model, write_plots

The names are loaded lazily (``__init__.pyi`` lists them, :mod:`lazy_loader` reads it): a stage
that needs only :mod:`driftloop.compare.config` does not pay for the comparison's imports, and
MLflow and matplotlib are imported only by the functions that need them.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
