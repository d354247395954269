"""Inline raw frames for the validate tests (raw_events / raw_catalog contract schemas)."""
from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone

RAW_EVENTS_SCHEMA = ("event_id string, user_id string, session_id string, query string, "
                     "item_id string, event_type string, ts timestamp, position int, "
                     "ingest_date date")
CATALOG_SCHEMA = ("item_id string, title string, category string, brand string, price double, "
                  "in_stock boolean, created_at timestamp")
D = date(2026, 11, 20)
CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ts(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


_NOON = object()


def ev(eid, user="u1", item="i1", etype="click", at=_NOON, pos=1, query="red shoes", sess="s1",
       ingest=D):
    """One raw event row (tuple in RAW_EVENTS_SCHEMA order); at=None is a null ts."""
    return (eid, user, sess, query, item, etype, ts(D) if at is _NOON else at, pos, ingest)


def events_df(spark, rows):
    return spark.createDataFrame(rows, RAW_EVENTS_SCHEMA)


def catalog_rows(n: int = 5):
    return [(f"i{k}", f"item {k}", "shoes/running/trail", "acme", 10.0 + k, True, CREATED)
            for k in range(1, n + 1)]


def catalog_df(spark, rows=None):
    return spark.createDataFrame(catalog_rows() if rows is None else rows, CATALOG_SCHEMA)


def job_args(run_date: date, **kw) -> argparse.Namespace:
    return argparse.Namespace(env="test", conf=[], run_date=run_date, no_docs=kw.get("no_docs", False))


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)
