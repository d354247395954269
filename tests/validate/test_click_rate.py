"""The inhuman-click-rate rule (bot_click_rate, kind max_in_window) on inline frames: the limit
is exclusive, the window half-open, ties share a window, only canonical clicks of rows alive at
that rule count, a null user is never a bot, windows stay inside one event date."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from pyspark.testing import assertDataFrameEqual

from jobs.common.config import CONF_DIR
from jobs.quality import checks
from jobs.quality import filters as Q
from jobs.quality.rules import parse_rules
from tests.validate.helpers import D, catalog_df, ev, events_df

TREE = yaml.safe_load((CONF_DIR / "rules.yaml").read_text())
T0 = datetime(D.year, D.month, D.day, 15, 0, tzinfo=timezone.utc)
PREV = D - timedelta(days=1)
LIMIT = 3  # clicks allowed within any 60 s window


def at(seconds: float, base: datetime = T0) -> datetime:
    return base + timedelta(seconds=seconds)


def _rules(cfg, tree=TREE, **over):
    params = {**cfg.validate_.model_dump(), "bot_max_events_per_day": 100,
              "bot_max_clicks_per_window": LIMIT, "bot_click_window_seconds": 60, **over}
    return parse_rules(tree, params)["events"]


def _reasons(spark, rules, rows):
    flagged = Q.flag_events(events_df(spark, rows), catalog_df(spark), rules=rules, run_date=D)
    return flagged.select("event_id", "reason")


def _clicks(user, offsets, etype="click", base=T0, prefix=None):
    return [ev(f"{prefix or user}-{k}", user=user, item=f"i{k % 5 + 1}", etype=etype,
               at=at(s, base), sess=f"s-{user}") for k, s in enumerate(offsets)]


ROWS = [
    *_clicks("at_limit", [0, 5, 10]),                      # 3 in 10 s: exactly at the limit
    *_clicks("tie", [0, 0, 0, 0]),                         # 4 clicks at one instant
    ev("tie-imp", user="tie", etype="impression", at=at(300)),  # its other events go too
    *_clicks("tie", [0], base=T0.replace(day=PREV.day), prefix="tie-prev"),  # other date: kept
    *_clicks("edge", [0, 20, 40, 60]),                     # 60 s apart: not in one window
    *_clicks("inside", [0, 20, 40, 59.999999]),            # 1 us inside: 4 in [t, t + 60 s)
    *_clicks("imp", [0, 1]),                               # 2 clicks + 5 impressions: kept
    *[ev(f"imp-i{k}", user="imp", item=f"i{k}", etype="impression", at=at(k))
      for k in range(1, 6)],
    *_clicks("odd", [0, 1, 2, 3], etype=" Click"),         # odd spelling is a click
    *_clicks("dup", [0, 1, 2]),                            # 3 + a duplicate copy: copy first
    ev("dup-copy", user="dup", item="i1", at=at(0), sess="s9"),
    *_clicks("midnight", [58, 59], base=T0.replace(hour=23, minute=59)),  # D 23:59:58/59
    *_clicks("midnight", [0, 1], base=datetime(D.year, D.month, D.day, tzinfo=timezone.utc)
             + timedelta(days=1), prefix="midnight-next"),
    *_clicks(None, [0, 1, 2, 3], prefix="nulluser"),       # null user: null_user_id first
    *_clicks("slow", range(0, 600, 15)),                   # 40 clicks over 10 min: 4/min...
]
WANT = {
    **{f"tie-{k}": "bot_click_rate" for k in range(4)}, "tie-imp": "bot_click_rate",
    **{f"inside-{k}": "bot_click_rate" for k in range(4)},
    **{f"odd-{k}": "bot_click_rate" for k in range(4)},
    "dup-copy": "duplicate", **{f"nulluser-{k}": "null_user_id" for k in range(4)},
    **{f"slow-{k}": "bot_click_rate" for k in range(40)},  # ...4 in a 60 s window > 3
}


def test_click_rate_edges(spark, cfg):
    got = _reasons(spark, _rules(cfg), ROWS)
    want = spark.createDataFrame([(r[0], WANT.get(r[0])) for r in ROWS],
                                 "event_id string, reason string")
    assertDataFrameEqual(got, want)


def test_helper_column_is_the_busiest_window(spark, cfg):
    rows = [*_clicks("a", [0, 5, 10, 100]), *_clicks("b", [0, 0, 30, 59, 61]),
            ev("c-imp", user="c", etype="impression", at=at(0)), *_clicks(None, [0], prefix="n")]
    flagged = Q.flag_events(events_df(spark, rows), catalog_df(spark), rules=_rules(cfg),
                            run_date=D)
    got = {r.event_id: r._n_bot_click_rate for r in flagged.collect()}
    assert got == {"a-0": 3, "a-1": 3, "a-2": 3, "a-3": 3, "b-0": 4, "b-1": 4, "b-2": 4, "b-3": 4,
                   "b-4": 4, "c-imp": None, "n-0": None}


def test_null_user_is_never_a_click_bot(spark, cfg):
    """Without the null_user_id rule, null-user clicks still never form a 'user'."""
    tree = copy.deepcopy(TREE)
    tree["events"]["rules"] = [r for r in tree["events"]["rules"] if r["reason"] != "null_user_id"]
    got = {r.event_id: r.reason for r in _reasons(spark, _rules(cfg, tree), [
        *_clicks(None, [0, 1, 2, 3, 4], prefix="nu"), *_clicks("x", [0, 1, 2, 3])]).collect()}
    assert got == {**{f"nu-{k}": None for k in range(5)},
                   **{f"x-{k}": "bot_click_rate" for k in range(4)}}


def test_daily_cap_wins_over_click_rate(spark, cfg):
    """A user over both limits is bot_user (the earlier rule): counted once in bot_share."""
    rules = _rules(cfg, bot_max_events_per_day=4)
    got = {r.event_id: r.reason for r in _reasons(spark, rules, _clicks("both", [0, 1, 2, 3, 4]))
           .collect()}
    assert set(got.values()) == {"bot_user"}
    assert rules.bot_reasons == ("bot_user", "bot_click_rate")


def test_bot_share_counts_every_bot_reason(cfg):
    rules = _rules(cfg)
    bots = checks.bot_rows_by_reason({None: 90, "bot_user": 4, "bot_click_rate": 3,
                                      "duplicate": 3}, rules.bot_reasons)
    assert bots == {"bot_user": 4, "bot_click_rate": 3}
    res = checks.bot_share_check(sum(bots.values()), 100, 0.05, bots)
    assert res.status == "failed" and res.observed == pytest.approx(0.07)
    assert res.message == ("bot_share check failed: 7.00% of 100 events (7; bot_user 4, "
                           "bot_click_rate 3) come from bot-like users > max 5.00% "
                           "(validate.bot_max_share)")
    assert checks.bot_rows_by_reason({None: 5}, rules.bot_reasons) == {
        "bot_user": 0, "bot_click_rate": 0}


@pytest.mark.parametrize("bad, match", [
    ({"window_seconds": 0}, "window_seconds must be an integer >= 1, got 0"),
    ({"max": "x"}, "max must be an integer >= 1, got 'x'"),
    ({"values": []}, "values must be a non-empty list"),
    ({"bot": "yes"}, "'bot' must be true or false"),
])
def test_bad_click_rate_rule_fails_loudly(cfg, bad, match):
    from jobs.common.config import ConfigError

    tree = copy.deepcopy(TREE)
    [rule] = [r for r in tree["events"]["rules"] if r["reason"] == "bot_click_rate"]
    rule.update(bad)
    with pytest.raises(ConfigError, match=match):
        _rules(cfg, tree)
