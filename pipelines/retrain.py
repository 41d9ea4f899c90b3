"""DVC stage `retrain`: `python pipelines/retrain.py [HYDRA_OVERRIDES...]` (see driftloop.stages.retrain)."""

import sys

from driftloop.stages import run_stage
from driftloop.stages.process import exit_with

if __name__ == "__main__":
    exit_with(run_stage("retrain", sys.argv[1:]))
