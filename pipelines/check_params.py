"""DVC stage `params`: refuse to run the cycle on a params.yaml that conf/ no longer composes to."""

import sys

from driftloop.cli import main

if __name__ == "__main__":
    sys.exit(main(["params", "--check"]))
