"""``python -m driftloop``: the ``driftloop`` command line (:mod:`driftloop.cli`)."""

import sys

from driftloop.cli import main

if __name__ == "__main__":
    sys.exit(main())
