"""DVC stage `promote`: `python pipelines/promote.py [HYDRA_OVERRIDES...]` (see driftloop.stages.promote)."""

import sys

from driftloop.stages import run_stage
from driftloop.stages.process import exit_with

if __name__ == "__main__":
    exit_with(run_stage("promote", sys.argv[1:]))
