"""DVC stage `compare`: `python pipelines/compare.py [HYDRA_OVERRIDES...]` (see driftloop.stages.compare)."""

import sys

from driftloop.stages import run_stage

if __name__ == "__main__":
    sys.exit(run_stage("compare", sys.argv[1:]))
