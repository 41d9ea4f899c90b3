"""``driftloop cycle``: one unattended cycle, the command a scheduler runs.

:mod:`driftloop.schedule.steps` is pure (the exit codes, the step records, the outcome, the commit
message and which changed files a cycle commits); :mod:`driftloop.schedule.runner` does the I/O
(the lock, git and DVC subprocesses, the notification). Nothing here is a DVC stage.
"""
