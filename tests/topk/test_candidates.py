"""Candidate generators on the inline data of conftest.py (exact expected rows)."""
from __future__ import annotations

import random

from jobs import candidates as cand
from jobs.common import columns as C
from jobs.common.text import query_variants

from .conftest import GRADES, D


def rows(df, *cols):
    return sorted(tuple(r[c] for c in cols) for r in df.collect())


def pop_value(terms):
    return sum(g * 0.5 ** (age / 7.0) for g, age in terms)


def test_query_variants_col_matches_python(spark):
    rng = random.Random(5)
    words = ["shoes", "shoe", "bass", "glass", "a", "mugs", "red", "dress", "tvs", "running"]
    texts = ["running shoes", "shoes running", "glass", "bass boss", "a", "mugs", "é cafés"]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(40)]
    df = spark.createDataFrame([(t,) for t in texts], "q string")
    out = df.select("q", cand.query_variants_col(df["q"]).alias("v")).collect()
    got = {r["q"]: list(r["v"]) for r in out}
    assert got == {t: query_variants(t) for t in texts}


def test_item_popularity_is_recency_weighted(spark, events_df):
    out = cand.item_popularity(events_df, run_date=D, half_life_days=7.0, grades=GRADES)
    got = dict(rows(out, C.ITEM_ID, C.POPULARITY))
    expected = {"i1": pop_value([(1, 1), (1, 0), (1, 2)]), "i2": pop_value([(1, 1), (3, 1), (1, 0)]),
                "i3": pop_value([(1, 0), (2, 0)]), "i7": pop_value([(1, 3), (3, 19)])}
    assert got.keys() == expected.keys()  # impressions (i5, i8) carry no weight
    for k, v in expected.items():
        assert abs(got[k] - v) < 1e-12


def test_popular_trending_and_category_popular(spark, events_df, catalog_df):
    pop = cand.in_stock_popularity(
        cand.item_popularity(events_df, run_date=D, half_life_days=7.0, grades=GRADES), catalog_df)
    assert rows(pop, C.ITEM_ID)[-1] == ("i9",) and "i6" not in {r[0] for r in rows(pop, C.ITEM_ID)}
    assert [r[C.ITEM_ID] for r in cand.popular_items(pop, 3).collect()] == ["i2", "i3", "i1"]
    # i4, i5, i8, i9 have popularity 0: ties broken by item id
    assert [r[C.ITEM_ID] for r in cand.popular_items(pop, 6).collect()][4:] == ["i4", "i5"]
    cp = rows(cand.category_popular(pop, 2), C.CATEGORY, C.ITEM_ID)
    assert cp == [("a/x/l1", "i1"), ("a/x/l1", "i2"), ("a/x/l2", "i3"), ("a/y/l3", "i4"),
                  ("b/z/l4", "i5"), ("b/z/l5", "i7"), ("b/z/l5", "i9")]
    tr = cand.trending_items(events_df, catalog_df, run_date=D, recent_days=7, history_days=30, n=10,
                             grades=GRADES)
    # all of i1/i2/i3's engagement is recent; i7's Nov 1 purchase is not; i1 and i3 tie (item id)
    assert [r[C.ITEM_ID] for r in tr.collect()] == ["i2", "i1", "i3", "i7"]


def test_covisitation_and_bought_together(spark, events_df):
    cv = cand.covisitation(events_df, session_max_items=30, n=5)
    assert rows(cv, C.ITEM_ID, C.NEIGHBOR_ID, C.WEIGHT) == [
        ("i1", "i2", 1), ("i1", "i3", 1), ("i2", "i1", 1), ("i3", "i1", 1)]
    # n=1 with a tie: the neighbour with the smaller item id wins
    assert rows(cand.covisitation(events_df, session_max_items=30, n=1), C.ITEM_ID, C.NEIGHBOR_ID) == [
        ("i1", "i2"), ("i2", "i1"), ("i3", "i1")]
    # session_max_items keeps the most recent items of a session: s1 -> i2 only, s2 -> i3 only
    assert cand.covisitation(events_df, session_max_items=1, n=5).count() == 0
    baskets = spark.createDataFrame(
        [("a", "p", "purchase"), ("a", "q", "add_to_cart"), ("b", "p", "purchase"), ("b", "q", "purchase"),
         ("b", "r", "click"), ("c", "p", "purchase"), ("c", "r", "purchase"), (None, "p", "purchase"),
         (None, "q", "purchase")], "user_id string, item_id string, event_type string")
    baskets = baskets.selectExpr("*", "timestamp'2026-11-20 10:00:00' as ts")
    fbt = cand.bought_together(baskets, basket_max_items=10, n=5)
    assert rows(fbt, C.ITEM_ID, C.NEIGHBOR_ID, C.WEIGHT) == [
        ("p", "q", 2), ("p", "r", 1), ("q", "p", 2), ("r", "p", 1)]


def test_user_candidates(spark, events_df, catalog_df):
    pop = cand.in_stock_popularity(
        cand.item_popularity(events_df, run_date=D, half_life_days=7.0, grades=GRADES), catalog_df)
    cv = cand.covisitation(events_df, session_max_items=30, n=5)
    out = cand.user_candidates(
        events_df, catalog_df, neighbours=cv, cat_pop=cand.category_popular(pop, 1),
        trending=spark.createDataFrame([("i7", 1.0)], "item_id string, weight double"),
        popular=spark.createDataFrame([("i5", 1.0)], "item_id string, weight double"), n=5,
        recent_items=20, top_categories=1)
    got: dict[str, set[str]] = {}
    for e, i in rows(out, C.ENTITY_ID, C.ITEM_ID):
        got.setdefault(e, set()).add(i)
    # neighbours + top-category popular (l1 -> i2, l2 -> i3, l5 -> i7) + trending i7 + popular i5;
    # u5 (impressions only) and the null user get no personalised candidates
    assert got == {"u1": {"i1", "i2", "i3", "i5", "i7"}, "u2": {"i1", "i2", "i3", "i5", "i7"},
                   "u3": {"i2", "i3", "i5", "i7"}, "u4": {"i1", "i2", "i5", "i7"}, "u6": {"i5", "i7"}}


def test_query_candidates(spark, events_df, catalog_df):
    pop = cand.in_stock_popularity(
        cand.item_popularity(events_df, run_date=D, half_life_days=7.0, grades=GRADES), catalog_df)
    queries = cand.search_queries(events_df)
    assert rows(queries, C.ENTITY_ID) == [("mug",), ("running shoe",), ("running shoes",)]
    engaged = cand.query_engaged(events_df, queries, n=5, grades=GRADES)
    # "running shoes" and "running shoe" share the variant "running shoe"; "mug" has no engagement
    assert rows(engaged, C.ENTITY_ID, C.ITEM_ID, C.WEIGHT) == [
        ("running shoe", "i1", 1), ("running shoe", "i2", 1), ("running shoes", "i1", 1),
        ("running shoes", "i2", 1)]
    matched = cand.text_match(queries, catalog_df, pop, 5)
    # "running shoes" also tries its singular "running shoe"; item tokens are not singularised
    assert rows(matched, C.ENTITY_ID, C.ITEM_ID, C.WEIGHT) == [
        ("mug", "i5", 1), ("running shoe", "i1", 1), ("running shoe", "i2", 2),
        ("running shoes", "i1", 2), ("running shoes", "i2", 2), ("running shoes", "i8", 1)]
    # n=1 on a tie of matched tokens: the more popular item wins (i2 over i1)
    top1 = rows(cand.text_match(queries, catalog_df, pop, 1), C.ENTITY_ID, C.ITEM_ID)
    assert top1 == [("mug", "i5"), ("running shoe", "i2"), ("running shoes", "i2")]
    qc = cand.query_candidates(engaged, matched, catalog_df, cat_pop=cand.category_popular(pop, 3), n=5,
                               top_categories=1)
    assert rows(qc, C.ENTITY_ID, C.ITEM_ID) == [
        ("running shoe", "i1"), ("running shoe", "i2"), ("running shoe", "i8"),
        ("running shoes", "i1"), ("running shoes", "i2"), ("running shoes", "i8")]


def test_item_candidates(spark, events_df, catalog_df):
    pop = cand.in_stock_popularity(
        cand.item_popularity(events_df, run_date=D, half_life_days=7.0, grades=GRADES), catalog_df)
    cv = cand.covisitation(events_df, session_max_items=30, n=5)
    fbt = cand.bought_together(events_df, basket_max_items=30, n=5)
    out = cand.item_candidates(cv, fbt, catalog_df, cand.category_popular(pop, 5))
    assert rows(out, C.ENTITY_ID, C.ITEM_ID) == [
        ("i1", "i2"), ("i1", "i3"), ("i1", "i8"), ("i2", "i1"), ("i2", "i8"), ("i3", "i1")]
