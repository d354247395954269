"""Data quality for the validate stage: rules (conf/rules.yaml), the row-level quarantine filter,
the Great Expectations suite built from the same rules, batch-level checks and the run summary."""
