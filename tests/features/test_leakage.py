"""No row's features read events at or after the row's own date: rewriting the future leaves them
unchanged (and does change later rows, so the test can fail)."""
from __future__ import annotations

import math
from datetime import date, timedelta

from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.feats import build, labels, text
from jobs.feats.assemble import FeatureTables, join_features
from jobs.feats.base import Priors, Windows
from tests.features.data import CATALOG_SCHEMA, EVENTS_SCHEMA, catalog_rows, event_rows

START = date(2026, 11, 1)
CUT = START + timedelta(days=4)
GRADES = {"purchase": 3, "add_to_cart": 2, "click": 1, "impression": 0}
W, P = Windows(1, 2, 4), Priors()


def _features(spark, events, catalog, rows, idf):
    t = build.compute(events, catalog, None, reqs=build.requests(rows, catalog), as_of=None,
                      windows=W, priors=P)
    # the stage writes each family to Delta and joins the tables read back; materialise them the
    # same way so the join below plans over small leaves
    t = {name: df.localCheckpoint() for name, df in t.items()}
    tables = FeatureTables(user=t["features_user"], item=t["features_item"],
                           query=t["features_query"], query_item=t["features_query_item"],
                           user_item=t["features_user_item"],
                           affinity=t["features_user_category"], idf=idf, catalog=catalog)
    out = join_features(rows, tables, priors=P)
    return {(r[C.GROUP_ID], r[C.ITEM_ID]): r.asDict() for r in out.collect()}


def test_changing_the_future_leaves_features_unchanged(spark):
    events = spark.createDataFrame(event_rows(START, 7, sessions_per_day=4), EVENTS_SCHEMA)
    catalog = spark.createDataFrame(catalog_rows(), CATALOG_SCHEMA)
    rows = build.with_as_of(labels.transform(events, start=START, end=START + timedelta(days=7),
                                             grades=GRADES, min_group_size=2)).cache()
    idf = text.fit_idf(events, catalog, train_start=START, train_end=CUT).cache()  # fixed fit
    before = _features(spark, events, catalog, rows, idf)
    future = F.col(C.EVENT_DATE) >= F.lit(CUT)
    # every event at/after CUT: half deleted, the rest turned into purchases at position 9
    mutated = (events.filter(~future | (F.xxhash64(C.EVENT_ID) % 2 == 0))
               .withColumn(C.EVENT_TYPE, F.when(future, F.lit(C.PURCHASE)).otherwise(F.col(C.EVENT_TYPE)))
               .withColumn(C.POSITION, F.when(future, F.lit(9)).otherwise(F.col(C.POSITION))))
    after = _features(spark, mutated, catalog, rows, idf)
    assert set(before) == set(after) and before
    cut_rows = [k for k, v in before.items() if v[C.EVENT_DATE] <= CUT]
    later = [k for k, v in before.items() if v[C.EVENT_DATE] > CUT]
    assert any(before[k][C.EVENT_DATE] == CUT for k in cut_rows)
    for k in cut_rows:  # the row on CUT itself reads events < CUT only
        assert _same(before[k], after[k]), (k, before[k], after[k])
    assert any(not _same(before[k], after[k]) for k in later)


def _same(a: dict, b: dict) -> bool:
    # exact up to float summation order (Spark may add the same doubles in another order)
    return a.keys() == b.keys() and all(
        a[c] == b[c] or (isinstance(a[c], float) and isinstance(b[c], float)
                         and math.isclose(a[c], b[c], rel_tol=1e-12, abs_tol=1e-12)) for c in a)
