"""Data in: the synthetic world + event generator (ranklake generate) and the file readers of
ranklake import."""
