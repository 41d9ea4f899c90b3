#!/usr/bin/env bash
# One scheduled driftloop cycle: pull data, run what changed, push data, commit the lock file.
# Exit codes: 0 ok (a cycle ran or nothing changed), non-zero: the failing step's code
# (driftloop stages: 3 config, 4 data, 5 registry, 6 model, 7 lock held).
# A second concurrent run waits on the lock instead of interleaving.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec 9>.dvc/tmp/driftloop-cycle.lock
flock -w 3600 9
dvc pull -q || true            # a fresh runner gets earlier snapshots back (verified by md5)
dvc repro
dvc push -q
if ! git diff --quiet -- dvc.lock; then
  git add dvc.lock && git commit -qm "driftloop cycle $(date -u +%Y-%m-%dT%H:%MZ)"
fi
