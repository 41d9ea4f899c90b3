"""DVC stage `retrain`: `python pipelines/retrain.py [HYDRA_OVERRIDES...]` (see driftloop.stages.retrain)."""

import sys

from driftloop.stages import run_stage

if __name__ == "__main__":
    sys.exit(run_stage("retrain", sys.argv[1:]))
