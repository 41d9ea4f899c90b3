"""Airflow DAG: one driftloop cycle every Monday at 06:00 UTC.

Install: copy this file into the DAGs folder and set DRIFTLOOP_HOME on the workers to the project's
folder (a git checkout whose .venv holds driftloop). max_active_runs=1 and the cycle's lock keep
cycles apart. Exit 10 (not promoted) is a success, 11 (nothing to do) and 12 (another cycle holds
the lock) mark the task skipped, 13 (a failed step, named in the log's JSON line) fails it.
"""

import os
from datetime import datetime

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

HOME = os.environ.get("DRIFTLOOP_HOME", "/srv/driftloop")

with DAG(
    "driftloop_cycle",
    schedule="0 6 * * 1",
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
) as dag:
    BashOperator(
        task_id="cycle",
        bash_command=(
            f"cd {HOME} && .venv/bin/driftloop cycle --pull --git-push; code=$?; [ $code -eq 10 ] && exit 0; exit $code"
        ),
        skip_on_exit_code=[11, 12],
    )
