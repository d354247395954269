"""Text relevance, groups/labels, judgment labels and split boundaries on inline frames."""
from __future__ import annotations

import math
from datetime import date

import pytest

from jobs import split
from jobs.common.errors import DataError
from jobs.feats import labels, text
from tests.features.conftest import D1, D2, D3, by_key
from tests.features.conftest import ts as utc_ts

GRADES = {"purchase": 3, "add_to_cart": 2, "click": 1, "impression": 0}


def ts(day, hour, minute=0):  # Spark collects timestamps as naive datetimes in the session tz (UTC)
    return utc_ts(day, hour, minute).replace(tzinfo=None)


def test_bm25_and_tfidf_fitted_on_train_window(spark, events, catalog):
    idf = text.fit_idf(events, catalog, train_start=D1, train_end=D3)  # i4 has no events: not a doc
    vocab = {(r["field"], r["term"]): r for r in idf.collect()}
    assert ("title", "hat") not in vocab and vocab[("title", "shoes")]["df"] == 2
    pairs = spark.createDataFrame([("red shoes", "i1"), ("red shoes", "i4"), (None, "i1"),
                                   ("hat", "i4")], "_qtext string, item_id string")
    got = by_key(text.transform(pairs, catalog, idf), "_qtext", "item_id")
    n, k1, b, avgdl = 3, 1.2, 0.75, 7 / 3
    bidf = {"red": math.log(1 + 2.5 / 1.5), "shoes": math.log(1 + 1.5 / 2.5)}
    tidf = {"red": math.log(4 / 2) + 1, "shoes": math.log(4 / 3) + 1, "running": math.log(2) + 1}

    def bm(term, dl, avg=avgdl):
        return bidf[term] * (k1 + 1) / (1 + k1 * (1 - b + b * dl / avg))

    qn = math.hypot(tidf["red"], tidf["shoes"])
    i1 = got[("red shoes", "i1")]
    assert i1["txt_bm25_title"] == pytest.approx(bm("red", 3) + bm("shoes", 3))
    assert i1["txt_tfidf_title"] == pytest.approx(
        (tidf["red"] ** 2 + tidf["shoes"] ** 2) / (qn * math.sqrt(sum(v * v for v in tidf.values()))))
    assert i1["txt_bm25_category"] == pytest.approx(math.log(1.6))  # only "shoes"; dl = avgdl
    cat_norm = math.sqrt(1 + tidf["shoes"] ** 2 + tidf["running"] ** 2)
    assert i1["txt_tfidf_category"] == pytest.approx(tidf["shoes"] / cat_norm)
    i4 = got[("red shoes", "i4")]  # "hat" is out of vocabulary: counts for dl only
    assert i4["txt_bm25_title"] == pytest.approx(bm("red", 2))
    assert i4["txt_tfidf_title"] == pytest.approx(tidf["red"] / qn)
    assert got[("hat", "i4")] == dict.fromkeys(("txt_bm25_title", "txt_bm25_category",
                                                "txt_tfidf_title", "txt_tfidf_category"), 0.0)
    assert (None, "i1") not in got and n == 3


def test_groups_and_graded_labels(events):
    out = labels.transform(events, start=D1, end=D3, grades=GRADES, min_group_size=1)
    got = {(r["group_id"], r["item_id"]): (r["list_type"], r["entity_id"], r["label"],
                                           r["event_date"], r["ctx_ts"]) for r in out.collect()}
    assert got == {
        ("q|s1|red shoes", "i1"): ("query", "red shoes", 1, D1, ts(D1, 10)),
        ("q|s1|red shoes", "i2"): ("query", "red shoes", 0, D1, ts(D1, 10)),
        ("u|s2|u1", "i2"): ("user", "u1", 1, D2, ts(D2, 9)),
        ("u|s2|u1", "i3"): ("user", "u1", 2, D2, ts(D2, 9)),
        ("i|s2|u1", "i3"): ("item", "i2", 2, D2, ts(D2, 9, 5)),  # anchor i2 = first click
        ("q|s4|red shoes", "i2"): ("query", "red shoes", 1, D2, ts(D2, 12)),
    }  # null-user browse session s3 and the D3 session s5 (outside [D1, D3)) have no group
    big = labels.transform(events, start=D1, end=D3, grades=GRADES, min_group_size=2)
    assert sorted({r["group_id"] for r in big.collect()}) == ["q|s1|red shoes", "u|s2|u1"]


def test_judgment_labels(spark, events):
    rows = labels.transform(events, start=D1, end=D3, grades=GRADES, min_group_size=2)
    judg = spark.createDataFrame([("Red  Shoes!", "i1", 3), ("red shoes", "i1", 2),
                                  ("wool", "i3", 1)], "query string, item_id string, grade int")
    got = {(r["group_id"], r["item_id"]): r["label"]
           for r in labels.with_judgment_labels(rows, judg).collect()}
    # (red shoes, i2) is unjudged -> dropped; user rows keep interaction labels
    assert got == {("q|s1|red shoes", "i1"): 3, ("u|s2|u1", "i2"): 1, ("u|s2|u1", "i3"): 2}


def test_split_boundaries_and_empty_split(spark):
    d = date(2026, 11, 20)
    ranges = split.split_ranges(d, train_days=21, validation_days=4, test_days=4)
    assert ranges == {"train": (date(2026, 10, 22), date(2026, 11, 12)),
                      "validation": (date(2026, 11, 12), date(2026, 11, 16)),
                      "test": (date(2026, 11, 16), date(2026, 11, 20))}
    days = [date(2026, 10, 21), date(2026, 10, 22), date(2026, 11, 11), date(2026, 11, 12),
            date(2026, 11, 15), date(2026, 11, 16), date(2026, 11, 19), date(2026, 11, 20), None]
    df = spark.createDataFrame([(f"g{i}", x) for i, x in enumerate(days)],
                               "group_id string, event_date date")
    got = {r["group_id"]: r["split"] for r in split.with_split(df, ranges).collect()}
    assert got == {"g1": "train", "g2": "train", "g3": "validation", "g4": "validation",
                   "g5": "test", "g6": "test"}  # each row in exactly one split; outside/null out
    split.check_splits({"train": 2, "validation": 2, "test": 2}, ranges)
    with pytest.raises(DataError, match=r"split 'validation' is empty.*\[2026-11-12, 2026-11-16\)"):
        split.check_splits({"train": 5, "test": 1}, ranges)
