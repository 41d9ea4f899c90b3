"""DVC stage `snapshot`: `python pipelines/snapshot.py [HYDRA_OVERRIDES...]` (see driftloop.stages.snapshot)."""

import sys

from driftloop.stages import run_stage

if __name__ == "__main__":
    sys.exit(run_stage("snapshot", sys.argv[1:]))
