"""Promotion: gates, drift-resolution evidence, the registry edge and the CLI commands.

The names are loaded lazily (``__init__.pyi`` lists them, :mod:`lazy_loader` reads it), so that
a stage reading only :mod:`driftloop.promote.config` does not import the registry edge; MLflow
(it costs seconds) is imported by the registry edge when first used.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
