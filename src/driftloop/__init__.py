"""driftloop: keep production models honest.

The library is organised one concept per module; stage shells live in
``driftloop.stages`` and the command line in ``driftloop.cli``.
"""

__version__ = "0.1.0"
