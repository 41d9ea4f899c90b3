"""DVC stage `params`: refuse to run the cycle on a params.yaml that conf/ no longer composes to.

On success it writes driftloop.config.CHECK_STAMP (git-ignored), the digest of the params.yaml it
checked: declared as the stage's output, it differs from an experiment's dvc.lock after
`dvc exp apply`, so the check runs again then instead of being skipped as cached.
"""

import sys

from driftloop.cli import main
from driftloop.config import CHECK_STAMP, write_check_stamp

if __name__ == "__main__":
    from pathlib import Path

    Path(CHECK_STAMP).unlink(missing_ok=True)  # a failed check leaves no stamp
    code = main(["params", "--check"])
    if code == 0:
        write_check_stamp()
    sys.exit(code)
