"""DVC stage `compare`: `python pipelines/compare.py [HYDRA_OVERRIDES...]` (see driftloop.stages.compare)."""

import sys

from driftloop.stages import run_stage
from driftloop.stages.process import exit_with

if __name__ == "__main__":
    exit_with(run_stage("compare", sys.argv[1:]))
