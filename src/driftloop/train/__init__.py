"""Training windows, the model zoo and fitting (issue 4).

Import from the submodules: ``driftloop.train.windows``, ``driftloop.train.labels``,
``driftloop.train.model``, ``driftloop.train.mlflow_model`` (the only one importing MLflow).
"""
