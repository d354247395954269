"""The quarantine filter on inline frames: every reason code, rule order, ties, routing."""
from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from pyspark.testing import assertDataFrameEqual

from jobs.common.config import CONF_DIR
from jobs.quality import filters as Q
from jobs.quality.rules import parse_rules
from tests.validate.helpers import D, catalog_df, ev, events_df, ts

PREV = D - timedelta(days=2)


@pytest.fixture(scope="module")
def rules(cfg):
    tree = yaml.safe_load((CONF_DIR / "rules.yaml").read_text())
    params = {**cfg.validate_.model_dump(), "bot_max_events_per_day": 4,
              "bot_max_clicks_per_window": 3, "bot_click_window_seconds": 60}
    return parse_rules(tree, params)["events"]


ROWS = [
    # clean rows (incl. a browse row with null query/position, an odd-case type, a late row)
    ev("c1", query="  Red  Running-Shoes!! ", at=ts(D, 10)),
    ev("c2", item="i2", etype=" Click", at=ts(D, 10, 1), pos=2),
    ev("c3", user="u2", etype="impression", query=None, pos=None),
    ev("t1", user="u3", at=ts(D, 11)),            # tie on (user, item, type, ts) with t2:
    ev("t2", user="u3", at=ts(D, 11), sess="s9"),  # the smallest event_id (t1) is kept
    ev("l1", user="u4", item="i3", etype="purchase", at=ts(PREV, 9), pos=None),
    ev("p1000", user="u6", pos=1000),
    *[ev(f"u5-{k}", user="u5", item=f"i{k}", at=ts(D, 8, k)) for k in range(1, 5)],  # = threshold
    # u10's three mq clicks below share one ts: exactly at the click-rate limit (3), not flagged
    # one problem per row
    ev(None, user="u7"),
    ev("n1", user=None),
    ev("n1b", user="  "),
    ev("n2", item=None),
    ev("n3", etype="CLIK "),
    ev("n3b", etype=None),
    ev("n4", at=None),
    ev("f1", at=ts(D + timedelta(days=2), 1)),
    ev("o1", at=ts(D - timedelta(days=400))),
    ev("c1", user="u9", item="i4", at=ts(D, 13)),  # event_id reused with other content
    ev("uk", item="zzz"),
    *[ev(f"bot-{k}", user="bot", item=f"i{k}", at=ts(D, 9, k)) for k in range(1, 6)],
    # 4 clicks within 45 s (under the daily cap of 4 events): inhuman click rate
    *[ev(f"fc-{k}", user="fast", item=f"i{k + 1}", at=ts(D, 14) + timedelta(seconds=15 * k))
      for k in range(4)],
    ev("bp0", user="u8", pos=0),
    ev("bp1001", user="u8", item="i2", pos=1001),
    ev("mq1", user="u10", query="red\x07shoes"),
    ev("mq2", user="u10", item="i2", query="shoe " * 50),
    ev("mq3", user="u10", item="i3", query="?!!..."),
    ev("multi", user=None, pos=0),  # two problems: the first rule in file order wins
]
EXPECTED_REASONS = {
    None: "null_event_id", "n1": "null_user_id", "n1b": "null_user_id", "n2": "null_item_id",
    "n3": "unknown_event_type", "n3b": "unknown_event_type", "n4": "null_timestamp",
    "f1": "future_timestamp", "o1": "too_old", "t2": "duplicate", "uk": "unknown_item",
    **{f"bot-{k}": "bot_user" for k in range(1, 6)},
    **{f"fc-{k}": "bot_click_rate" for k in range(4)}, "bp0": "bad_position",
    "bp1001": "bad_position", "mq1": "malformed_query", "mq2": "malformed_query",
    "mq3": "malformed_query", "multi": "null_user_id"}


@pytest.fixture(scope="module")
def flagged(spark, rules):
    return Q.flag_events(events_df(spark, ROWS), catalog_df(spark), rules=rules, run_date=D).cache()


def test_every_reason_code(flagged, rules):
    q = Q.quarantine_events(flagged, run_date=D, rule_version=rules.version).collect()
    got = {}
    for r in q:
        key = r.event_id if r.event_id != "c1" else ("c1", r.user_id)
        got[key] = r.reason
    want = {**EXPECTED_REASONS, ("c1", "u9"): "duplicate_event_id"}
    assert got == want
    assert set(rules.reasons) - {r for r in got.values()} == set()  # every code is exercised
    assert {r.run_date for r in q} == {D} and {r.rule_version for r in q} == {rules.version}


def test_clean_rows_are_normalised(spark, flagged):
    E = "event_id string, user_id string, session_id string, query string, item_id string, " \
        "event_type string, ts timestamp, position int, event_date date"
    want = spark.createDataFrame([
        ("c1", "u1", "s1", "red running shoes", "i1", "click", ts(D, 10), 1, D),
        ("c2", "u1", "s1", "red shoes", "i2", "click", ts(D, 10, 1), 2, D),
        ("c3", "u2", "s1", None, "i1", "impression", ts(D), None, D),
        ("t1", "u3", "s1", "red shoes", "i1", "click", ts(D, 11), 1, D),
        ("l1", "u4", "s1", "red shoes", "i3", "purchase", ts(PREV, 9), None, PREV),
        ("p1000", "u6", "s1", "red shoes", "i1", "click", ts(D), 1000, D),
        *[(f"u5-{k}", "u5", "s1", "red shoes", f"i{k}", "click", ts(D, 8, k), 1, D)
          for k in range(1, 5)],
    ], E)
    assertDataFrameEqual(Q.clean_events(flagged), want)


def test_quarantined_rows_are_unchanged(flagged, rules):
    q = {r.event_id: r for r in Q.quarantine_events(flagged, run_date=D,
                                                    rule_version=rules.version).collect()}
    assert q["n3"].event_type == "CLIK " and q["mq1"].query == "red\x07shoes"
    assert q["mq2"].query == "shoe " * 50 and q["n1b"].user_id == "  "
    assert q["t2"].session_id == "s9" and q["bp0"].position == 0
    # partition routing: null / future / absurdly old ts -> ingest date; otherwise date(ts)
    assert q["n4"].event_date == D and q["f1"].event_date == D and q["o1"].event_date == D


def test_routing_depends_on_the_row_only(spark, rules):
    rows = [ev("late", at=ts(PREV), ingest=D), ev("skew", at=ts(D + timedelta(days=1), 3)),
            ev("fut", at=ts(D + timedelta(days=2))), ev("null", at=None, ingest=PREV)]
    got = {r.event_id: r.event_date for r in
           events_df(spark, rows).transform(Q.with_event_date(rules)).collect()}
    assert got == {"late": PREV, "skew": D + timedelta(days=1), "fut": D, "null": PREV}


def test_exact_duplicates_dropped_not_quarantined(spark):
    rows = [ev("a"), ev("a"), ev("a", ingest=PREV), ev("b", user=None), ev("b", user=None)]
    out = Q.drop_exact_duplicates(events_df(spark, rows), Q.RAW_EVENT_COLUMNS)
    assert sorted((r.event_id, r.ingest_date) for r in out.collect()) == [
        ("a", PREV), ("a", D), ("b", D)]


def test_catalog_rules(spark, cfg):
    from tests.validate.helpers import CREATED

    tree = yaml.safe_load((CONF_DIR / "rules.yaml").read_text())
    rules = parse_rules(tree, cfg.validate_.model_dump())["catalog"]
    rows = [("i1", "a", "shoes/running", "b", 1.0, True, CREATED),
            ("i1", "b", "shoes/running", "b", 2.0, True, CREATED),   # same id, later title: dup
            ("i2", "a", "shoes", "b", -0.01, True, CREATED),
            ("i3", "a", "shoes//x", "b", 0.0, False, CREATED),
            ("i4", "a", None, "b", 0.0, None, CREATED),
            ("i5", "a", " shoes/x", "b", 0.0, True, CREATED),
            ("i6", "a", "a/b/c", None, None, True, CREATED),
            (None, "a", "a/b/c", "b", 3.0, True, CREATED),
            ("i7", "a", "x", "b", 0.0, True, None)]
    flagged = Q.flag_catalog(catalog_df(spark, rows), rules=rules, run_date=D)
    got = sorted((((r.item_id, r.title), r.reason) for r in flagged.collect()), key=str)
    assert got == sorted([(("i1", "a"), None), (("i1", "b"), "duplicate_item_id"),
                          (("i2", "a"), "negative_price"), (("i3", "a"), "bad_category"),
                          (("i4", "a"), "bad_category"), (("i5", "a"), "bad_category"),
                          (("i6", "a"), "null_price"), ((None, "a"), "null_item_id"),
                          (("i7", "a"), None)], key=str)
