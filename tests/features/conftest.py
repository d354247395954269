from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tests.features.data import CATALOG_SCHEMA, EVENTS_SCHEMA

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def ts(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


def ev(eid, user, sid, query, item, etype, when, pos=None):
    return (eid, user, sid, query, item, etype, when, pos, when.date())


@pytest.fixture(scope="session")
def events(spark):
    """u1: search + browse over 3 days; u2: one click; a null-user row; a tie (same ts)."""
    rows = [
        ev("e1", "u1", "s1", "red shoes", "i1", "impression", ts(D1, 10), 1),
        ev("e2", "u1", "s1", "red shoes", "i2", "impression", ts(D1, 10), 2),  # tie on ts
        ev("e3", "u1", "s1", "red shoes", "i1", "click", ts(D1, 10, 1), 1),
        ev("e4", "u1", "s2", None, "i2", "impression", ts(D2, 9), 1),
        ev("e5", "u1", "s2", None, "i2", "click", ts(D2, 9, 5), 1),
        ev("e6", "u1", "s2", None, "i3", "impression", ts(D2, 9, 6), 2),
        ev("e7", "u1", "s2", None, "i3", "add_to_cart", ts(D2, 9, 7)),
        ev("e8", None, "s3", None, "i1", "impression", ts(D2, 11), 1),  # null user
        ev("e9", "u2", "s4", "red shoes", "i2", "click", ts(D2, 12), 3),
        ev("e10", "u1", "s5", "red shoes", "i1", "purchase", ts(D3, 8)),  # after as_of D2
    ]
    return spark.createDataFrame(rows, EVENTS_SCHEMA)


@pytest.fixture(scope="session")
def catalog(spark):
    rows = [("i1", "Red Running Shoes", "fashion/shoes/running", "acme", 10.0, True,
             ts(date(2026, 10, 1), 0)),
            ("i2", "Blue Shoes", "fashion/shoes/casual", "acme", 30.0, False,
             ts(date(2026, 10, 31), 12)),
            ("i3", "Wool Jacket", "fashion/outer/jackets", None, None, True,
             ts(date(2026, 10, 30), 0)),
            ("i4", "Red Hat", "fashion/acc/hats", "zeta", 3.0, True, ts(date(2026, 10, 1), 0))]
    return spark.createDataFrame(rows, CATALOG_SCHEMA)


def by_key(df, *keys) -> dict:
    return {tuple(r[k] for k in keys): {c: r[c] for c in df.columns if c not in keys}
            for r in df.collect()}
