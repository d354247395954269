"""Each feature family on inline frames (tests/features/conftest.py): nulls, ties, exact values."""
from __future__ import annotations

import math

import pytest

from jobs.feats import item, query, user, user_item
from jobs.feats.base import Priors, Windows
from tests.features.conftest import D1, D2, by_key

W = Windows(1, 2, 3)
P = Priors(strength=20.0, ctr=0.1, atc=0.03, purchase=0.01, cvr=0.1)


def approx_rows(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for k, exp in expected.items():
        got = actual[k]
        assert set(got) == set(exp), k
        for c, v in exp.items():
            if v is None:
                assert got[c] is None, (k, c, got[c])
            else:
                assert got[c] == pytest.approx(v, rel=1e-9, abs=1e-12), (k, c, got[c], v)


def test_user_features(spark, events, catalog):
    users = spark.createDataFrame([("u1", "gold", D1), ("u2", None, None)],
                                  "user_id string, segment string, signup_date date")
    out = user.transform(events, catalog, users, windows=W, priors=P, as_of=D2)
    gold = spark.sql("select cast(pmod(xxhash64('gold'), 1000) as double) c").first()[0]
    got = by_key(out.drop("feature_ts"), "user_id", "as_of_date")
    approx_rows(got, {
        ("u1", D2): dict(u_impr_short=2, u_impr_mid=4, u_impr_long=4, u_clicks_short=1,
                         u_clicks_mid=2, u_clicks_long=2, u_purchases_long=0,
                         u_ctr=(2 + 2) / (4 + 20), u_cvr=(0 + 2) / (2 + 20),
                         u_recency_days=(24 - 9 - 7 / 60) / 24, u_tenure_days=2,
                         u_segment_code=gold, u_mean_price=(10 + 30) / 2),
        ("u2", D2): dict(u_impr_short=0, u_impr_mid=0, u_impr_long=0, u_clicks_short=1,
                         u_clicks_mid=1, u_clicks_long=1, u_purchases_long=0, u_ctr=3 / 20,
                         u_cvr=2 / 21, u_recency_days=0.5, u_tenure_days=None,
                         u_segment_code=None, u_mean_price=30.0),
    })  # the null-user row (e8) and the D3 purchase are not counted


def test_item_features_every_catalog_item(spark, events, catalog):
    out = item.transform(events, catalog, windows=W, priors=P, as_of=D2)
    got = by_key(out.drop("feature_ts", "category", "brand"), "item_id")
    assert set(got) == {("i1",), ("i2",), ("i3",), ("i4",)}
    i1, i4 = got[("i1",)], got[("i4",)]
    assert (i1["i_impr_short"], i1["i_impr_mid"], i1["i_clicks_mid"]) == (1, 2, 1)  # null user counts
    assert i1["i_ctr"] == pytest.approx((1 + 2) / (2 + 20))
    assert i1["i_trend"] == pytest.approx(math.log((1 / 2 + 0.1) / (1 / 3 + 0.1)))
    assert i1["i_age_days"] == pytest.approx(33.0) and i1["i_in_stock"] == 1.0
    assert i4["i_impr_long"] == 0 and i4["i_ctr"] == pytest.approx(0.1) and i4["i_trend"] == 0
    assert got[("i3",)]["i_price"] is None and got[("i3",)]["i_atc_rate"] == pytest.approx(
        (1 + 20 * 0.03) / (1 + 20))


def test_query_and_query_item(events):
    q = by_key(query.transform_query(events, windows=W, as_of=D2).drop("feature_ts"), "query")
    assert q == {("red shoes",): dict(as_of_date=D2, q_volume=2.0, q_distinct_items=2.0,
                                      q_len_tokens=2.0, q_len_chars=9.0)}
    qi = by_key(query.transform_query_item(events, windows=W, priors=P, as_of=D2)
                .drop("feature_ts", "as_of_date"), "query", "item_id")
    exp_i1 = 0.1 * 1.0  # one impression at position 1
    approx_rows(qi, {
        ("red shoes", "i1"): dict(qi_impr=1, qi_clicks=1, qi_ctr=3 / 21, qi_atc_rate=0.6 / 21,
                                  qi_purchase_rate=0.2 / 21,
                                  qi_pos_norm_ctr=(1 + 2) / (exp_i1 + 2)),
        ("red shoes", "i2"): dict(qi_impr=1, qi_clicks=1, qi_ctr=3 / 21, qi_atc_rate=0.6 / 21,
                                  qi_purchase_rate=0.2 / 21,
                                  qi_pos_norm_ctr=(1 + 2) / (0.1 / math.log2(3) + 2)),
    })


def test_user_item_and_affinity(spark, events, catalog):
    ui = by_key(user_item.transform_user_item(events, windows=W, as_of=D2)
                .drop("feature_ts", "as_of_date"), "user_id", "item_id")
    assert ui[("u1", "i3")] == dict(ui_impr=1.0, ui_clicks=0.0, ui_atc=1.0, ui_purchases=0.0,
                                    ui_recency_days=pytest.approx((24 - 9 - 7 / 60) / 24))
    assert set(ui) == {("u1", "i1"), ("u1", "i2"), ("u1", "i3"), ("u2", "i2")}
    full = by_key(user_item.transform_affinity(events, catalog, windows=W, as_of=D2)
                  .drop("feature_ts", "as_of_date"), "user_id", "affinity_key")
    # u1 engaged: i1 click (shoes/running, acme, band 3), i2 click (casual, acme, band 4),
    # i3 cart (jackets, no brand, no price)
    assert full[("u1", "category=fashion/shoes/running")] == dict(
        aff_events=1.0, aff_clicks=1.0, aff_share=pytest.approx(1 / 3))
    assert full[("u1", "brand=acme")]["aff_share"] == 1.0
    assert full[("u1", "price_band=3")]["aff_share"] == 0.5
    assert ("u1", "brand=None") not in full
    # the share does not depend on which other keys are requested
    req = spark.createDataFrame([("u1", "category=fashion/shoes/running", D2)],
                                "user_id string, affinity_key string, as_of_date date")
    one = by_key(user_item.transform_affinity(events, catalog, windows=W, requests=req)
                 .drop("feature_ts", "as_of_date"), "user_id", "affinity_key")
    assert one == {("u1", "category=fashion/shoes/running"):
                   full[("u1", "category=fashion/shoes/running")]}
