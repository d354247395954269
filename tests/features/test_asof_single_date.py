"""The single-as-of-date fast path (the serving snapshot) equals the general window path.

``windowed(..., as_of=D, requests=None)`` is one filtered aggregate (``snapshot_windows``); fed the
same keys as explicit requests at D, the window path (``asof_windows``) must give the same rows,
columns, types (incl. nullability) and null/zero semantics -- on a hand-built frame with the edge
cases, and for all six tables of ``build.compute`` on generated events.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.common import columns as C
from jobs.feats import build
from jobs.feats.base import (
    DAY,
    HIST,
    Priors,
    Windows,
    windowed,
    with_grade_counts,
)
from jobs.feats.user_item import brand_key, category_key, price_band_key
from tests.features.data import CATALOG_SCHEMA, EVENTS_SCHEMA, catalog_rows, event_rows

D = date(2026, 11, 20)
KEYS = (C.USER_ID,)
SUMS = {"impr_1": ("n_impr", 1), "impr_7": ("n_impr", 7), "impr_30": ("n_impr", 30),
        "clicks_1": ("n_click", 1), "clicks_30": ("n_click", 30), "clicks_all": ("n_click", None),
        "v_7": ("v", 7), "v_all": ("v", None)}
MAXES = {"last_ts": ("last_ts", None), "last_ts_7": ("last_ts", 7), "v_max_1": ("v", 1)}


def at(offset: int, hour: int = 10) -> datetime:
    day = D + timedelta(days=offset)
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def naive(t: datetime) -> datetime:  # collect() gives session-time (UTC) naive datetimes
    return t.replace(tzinfo=None)


def _events(spark):
    """a: history across the 7/30-day boundaries, a gap, a tie at D-1, events after D;
    b: only at D; c: only after D; d: only long ago; a null user."""
    spec = [("a", "impression", -40, 1), ("a", "impression", -30, 1), ("a", "click", -29, 2),
            ("a", "click", -10, 2), ("a", "impression", -7, 1), ("a", "impression", -6, 3),
            ("a", "impression", -1, 1), ("a", "impression", -1, 1),  # tie: same ts
            ("a", "click", 0, 2), ("a", "purchase", 1, None), ("a", "click", 3, 1),
            ("b", "impression", 0, 1), ("b", "click", 0, 1),
            ("c", "impression", 2, 1),
            ("d", "click", -100, 4),
            (None, "impression", -3, 1), (None, "click", 0, 2)]
    rows = [(f"e{i}", u, f"s{i}", None, "i1", et, at(off), pos, at(off).date())
            for i, (u, et, off, pos) in enumerate(spec)]
    return spark.createDataFrame(rows, EVENTS_SCHEMA)


def _daily(events):
    return (events.transform(with_grade_counts).groupBy(C.USER_ID, DAY)
            .agg(F.sum("n_impr").alias("n_impr"), F.sum("n_click").alias("n_click"),
                 F.sum(F.col(C.POSITION).cast("double") * 0.5).alias("v"),
                 F.max(C.TS).alias("last_ts")))


def _plan(df) -> str:
    return df._jdf.queryExecution().optimizedPlan().toString()


@pytest.mark.parametrize("keep", [False, True])
def test_single_date_equals_window_path(spark, keep):
    dly = _daily(_events(spark))
    extra = spark.createDataFrame([("e",), ("a",)], "user_id string")  # e: no event at all
    explicit = (dly.select(C.USER_ID).unionByName(extra).distinct()
                .withColumn(C.AS_OF_DATE, F.lit(D).cast("date")))
    fast = windowed(dly, KEYS, SUMS, MAXES, as_of=D, requests=None, keep_without_history=keep,
                    extra_keys=extra)
    slow = windowed(dly, KEYS, SUMS, MAXES, as_of=None, requests=explicit,
                    keep_without_history=keep, extra_keys=extra)
    assert "Window" not in _plan(fast) and "Window" in _plan(slow)
    assert fast.schema == slow.schema  # names, order, types and nullability
    assertDataFrameEqual(fast, slow, rtol=0.0, atol=0.0)

    got = {r[C.USER_ID]: r.asDict() for r in fast.collect()}
    assert set(got) == ({"a", "b", "d", None} | ({"c", "e"} if keep else set()))
    a = got["a"]
    assert a[C.AS_OF_DATE] == D and a[HIST] == 8  # D-40 .. D, not the days after D
    assert (a["impr_1"], a["impr_7"], a["impr_30"]) == (0, 3, 4)  # D-7 / D-30 fall outside
    assert (a["clicks_1"], a["clicks_30"], a["clicks_all"]) == (1, 3, 3)
    assert a["v_7"] == 3.5 and a["v_max_1"] == 1.0 and a["last_ts"] == naive(at(0))
    assert got["b"][HIST] == 1 and got["b"]["impr_1"] == 1 and got["b"]["clicks_1"] == 1
    d = got["d"]
    assert (d[HIST], d["clicks_all"], d["clicks_30"], d["v_7"]) == (1, 1, 0, 0.0)
    assert d["last_ts"] == naive(at(-100)) and d["last_ts_7"] is None and d["v_max_1"] is None
    assert got[None][HIST] == 2 and got[None]["clicks_1"] == 1
    if keep:
        for k in ("c", "e"):  # no day on or before D: 0 days, sums 0, maxes null
            assert got[k][HIST] == 0 and all(got[k][s] == 0 for s in SUMS), got[k]
            assert all(got[k][m] is None for m in MAXES), got[k]


def _all_keys_at(events, catalog, as_of: date) -> dict:
    """Explicit requests at ``as_of``: every key of each table the events/catalog could give
    (supersets where the table drops keys without history, the exact key set for items)."""
    at_d = F.lit(as_of).cast("date").alias(C.AS_OF_DATE)
    users = events.filter(F.col(C.USER_ID).isNotNull()).select(C.USER_ID).distinct()
    queries = events.filter(F.col(C.QUERY).isNotNull()).select(C.QUERY).distinct()
    items = events.select(C.ITEM_ID).unionByName(catalog.select(C.ITEM_ID)).distinct()
    aff = catalog.select(F.explode(F.array(category_key(F.col(C.CATEGORY)),
                                           brand_key(F.col(C.BRAND)),
                                           price_band_key(F.col(C.PRICE)))).alias(C.AFFINITY_KEY))
    aff = aff.filter(F.col(C.AFFINITY_KEY).isNotNull()).distinct()
    return {
        "features_user": users.select("*", at_d),
        "features_item": items.select("*", at_d),
        "features_query": queries.select("*", at_d),
        "features_query_item": queries.crossJoin(items).select("*", at_d),
        "features_user_item": users.crossJoin(items).select("*", at_d),
        "features_user_category": users.crossJoin(aff).select("*", at_d),
    }


@pytest.mark.slow  # ~75 s on the 2-core box: 12 feature plans
def test_snapshot_tables_equal_window_path(spark):
    start = D - timedelta(days=9)
    events = spark.createDataFrame(event_rows(start, 12, sessions_per_day=4), EVENTS_SCHEMA)
    catalog = spark.createDataFrame(catalog_rows(), CATALOG_SCHEMA)
    users = spark.createDataFrame([("u0", "gold", start), ("u1", None, None)],
                                  "user_id string, segment string, signup_date date")
    assert events.filter(F.col(C.EVENT_DATE) > F.lit(D)).limit(1).count() == 1  # future exists
    w, p = Windows(1, 3, 5), Priors()
    fast = build.compute(events, catalog, users, reqs=None, as_of=D, windows=w, priors=p)
    slow = build.compute(events, catalog, users, reqs=_all_keys_at(events, catalog, D),
                         as_of=None, windows=w, priors=p)
    assert set(fast) == set(slow) == set(build.TABLES)
    for name in build.TABLES:
        f, s = fast[name].localCheckpoint(), slow[name].localCheckpoint()
        assert f.schema == s.schema, name
        assert f.count() > 0, name
        # doubles may be added in another order (exp_click): equal up to rounding
        assertDataFrameEqual(f, s, rtol=1e-12, atol=1e-12)
