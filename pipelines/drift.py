"""DVC stage `drift`: `python pipelines/drift.py [HYDRA_OVERRIDES...]` (see driftloop.stages.drift)."""

import sys

from driftloop.stages import run_stage

if __name__ == "__main__":
    sys.exit(run_stage("drift", sys.argv[1:]))
