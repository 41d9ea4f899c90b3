"""DVC stage `drift`: `python pipelines/drift.py [HYDRA_OVERRIDES...]` (see driftloop.stages.drift)."""

import sys

from driftloop.stages import run_stage
from driftloop.stages.process import exit_with

if __name__ == "__main__":
    exit_with(run_stage("drift", sys.argv[1:]))
