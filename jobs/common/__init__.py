"""Shared code for every ranklake job: config, Spark, table registry, Delta IO, run records."""
