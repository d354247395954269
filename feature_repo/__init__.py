"""Feast repository of ranklake's feature tables (entities, sources, views, services)."""
