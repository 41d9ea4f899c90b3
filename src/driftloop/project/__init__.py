"""A user's own project: ``driftloop init`` (infer, scaffold) and ``driftloop ingest`` (validate, add a batch)."""
