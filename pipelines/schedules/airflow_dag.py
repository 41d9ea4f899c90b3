"""Airflow DAG: one driftloop cycle per week (copy into your DAGs folder; set DRIFTLOOP_HOME)."""

import os
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

HOME = os.environ.get("DRIFTLOOP_HOME", "/srv/driftloop")

with DAG(
    "driftloop_cycle", schedule="0 6 * * 1", start_date=datetime(2026, 1, 5), catchup=False, max_active_runs=1
) as dag:
    BashOperator(task_id="cycle", bash_command=f"cd {HOME} && . .venv/bin/activate && pipelines/schedules/cycle.sh")
