"""DVC stage `snapshot`: `python pipelines/snapshot.py [HYDRA_OVERRIDES...]` (see driftloop.stages.snapshot)."""

import sys

from driftloop.stages import run_stage
from driftloop.stages.process import exit_with

if __name__ == "__main__":
    exit_with(run_stage("snapshot", sys.argv[1:]))
