"""DVC stage `promote`: `python pipelines/promote.py [HYDRA_OVERRIDES...]` (see driftloop.stages.promote)."""

import sys

from driftloop.stages import run_stage

if __name__ == "__main__":
    sys.exit(run_stage("promote", sys.argv[1:]))
