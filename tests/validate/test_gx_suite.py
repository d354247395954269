"""conf/rules.yaml drives both the GX suite and the quarantine filter: change a rule, both change."""
from __future__ import annotations

import copy
import os
from datetime import timedelta

import pytest
import yaml

from jobs.common.config import CONF_DIR, ConfigError
from jobs.quality import filters as Q
from jobs.quality.gx_suite import build_expectations, run_suites
from jobs.quality.rules import parse_rules
from tests.validate.helpers import D, catalog_df, ev, events_df, ts

TREE = yaml.safe_load((CONF_DIR / "rules.yaml").read_text())


def _rules(cfg, tree):
    return parse_rules(tree, cfg.validate_.model_dump())["events"]


def _exp(expectations, etype, column):
    return [e for e in expectations if e.expectation_type == etype
            and e.configuration.kwargs.get("column") == column]


def _reasons(spark, rules, rows):
    flagged = Q.flag_events(events_df(spark, rows), catalog_df(spark), rules=rules, run_date=D)
    return {r.event_id: r.reason for r in flagged.collect()}


def test_suite_has_every_rule_schema_and_volume(cfg):
    rules = _rules(cfg, TREE)
    exps = build_expectations(rules, "spark")
    tagged = {e.meta["reason"] for e in exps}
    assert tagged == {*rules.reasons, "schema", "volume"}
    types = {e.expectation_type for e in exps}
    assert {"expect_table_columns_to_match_set", "expect_column_values_to_be_of_type",
            "expect_table_row_count_to_be_between", "expect_compound_columns_to_be_unique",
            "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_null",
            "expect_column_values_to_be_between"} <= types
    uniq = [e for e in exps if e.expectation_type == "expect_compound_columns_to_be_unique"]
    assert uniq[0].configuration.kwargs["column_list"] == ["user_id", "item_id", "event_type", "ts"]
    assert not _exp(build_expectations(rules, "pandas"), "expect_column_values_to_be_of_type",
                    "ts")  # pandas dtypes do not carry Spark types


def test_changing_a_rule_changes_suite_and_filter(spark, cfg):
    rows = [ev("p60", pos=60), ev("p2000", user="u2", pos=2000), ev("q", user="u3", query="?!")]
    before = _rules(cfg, TREE)
    [between] = _exp(build_expectations(before), "expect_column_values_to_be_between", "position")
    assert between.configuration.kwargs["max_value"] == 1000
    assert _reasons(spark, before, rows) == {"p60": None, "p2000": "bad_position",
                                             "q": "malformed_query"}

    tree = copy.deepcopy(TREE)
    [rule] = [r for r in tree["events"]["rules"] if r["reason"] == "bad_position"]
    rule["max"] = 50
    tree["events"]["rules"] = [r for r in tree["events"]["rules"]
                               if r["reason"] != "malformed_query"]
    after = _rules(cfg, tree)
    exps = build_expectations(after)
    [between] = _exp(exps, "expect_column_values_to_be_between", "position")
    assert between.configuration.kwargs["max_value"] == 50
    assert not [e for e in exps if e.meta["reason"] == "malformed_query"]
    assert _reasons(spark, after, rows) == {"p60": "bad_position", "p2000": "bad_position",
                                            "q": None}


def test_config_parameters_flow_into_both(spark, cfg):
    params = {**cfg.validate_.model_dump(), "bot_max_events_per_day": 2}
    rules = parse_rules(TREE, params)["events"]
    [bot] = [e for e in build_expectations(rules) if e.meta["reason"] == "bot_user"]
    assert bot.configuration.kwargs["max_value"] == 2
    rows = [ev(f"b{k}", item=f"i{k}") for k in range(1, 4)] + [ev("x", user="u2")]
    assert _reasons(spark, rules, rows) == {"b1": "bot_user", "b2": "bot_user", "b3": "bot_user",
                                            "x": None}


def _click_rate_exp(rules):
    [exp] = [e for e in build_expectations(rules) if e.meta["reason"] == "bot_click_rate"]
    assert exp.expectation_type == "expect_column_values_to_be_between"
    assert exp.configuration.kwargs["column"] == "_n_bot_click_rate"
    return exp.configuration.kwargs["max_value"]


def test_click_rate_parameters_flow_into_both(spark, cfg):
    """validate.bot_max_clicks_per_window / bot_click_window_seconds change suite and filter."""
    # u1: 3 clicks 20 s apart (+ an impression); u2: 2 clicks 50 s apart
    rows = [ev(f"a{k}", item=f"i{k + 1}", at=ts(D, 15) + timedelta(seconds=20 * k))
            for k in range(3)] + [ev("a-imp", etype="impression", at=ts(D, 16))]
    rows += [ev(f"b{k}", user="u2", item=f"i{k + 1}", at=ts(D, 15) + timedelta(seconds=50 * k))
             for k in range(2)]
    base = cfg.validate_.model_dump()
    default = parse_rules(TREE, base)["events"]
    assert _click_rate_exp(default) == 20
    assert set(_reasons(spark, default, rows).values()) == {None}
    strict = parse_rules(TREE, {**base, "bot_max_clicks_per_window": 2})["events"]
    assert _click_rate_exp(strict) == 2
    assert _reasons(spark, strict, rows) == {"a0": "bot_click_rate", "a1": "bot_click_rate",
                                             "a2": "bot_click_rate", "a-imp": "bot_click_rate",
                                             "b0": None, "b1": None}
    # a 2-minute window also catches u2; a 15-second one catches nobody
    wide = parse_rules(TREE, {**base, "bot_max_clicks_per_window": 1,
                              "bot_click_window_seconds": 120})["events"]
    assert _click_rate_exp(wide) == 1
    assert set(_reasons(spark, wide, rows).values()) == {"bot_click_rate"}
    narrow = parse_rules(TREE, {**base, "bot_max_clicks_per_window": 1,
                                "bot_click_window_seconds": 15})["events"]
    assert set(_reasons(spark, narrow, rows).values()) == {None}
    # removing the rule from the file removes its expectation and its quarantine
    tree = copy.deepcopy(TREE)
    tree["events"]["rules"] = [r for r in tree["events"]["rules"]
                               if r["reason"] != "bot_click_rate"]
    gone = parse_rules(tree, {**base, "bot_max_clicks_per_window": 2})["events"]
    assert not [e for e in build_expectations(gone) if e.meta["reason"] == "bot_click_rate"]
    assert set(_reasons(spark, gone, rows).values()) == {None} and gone.bot_reasons == ("bot_user",)


def test_bad_rules_fail_loudly(cfg):
    tree = copy.deepcopy(TREE)
    tree["events"]["rules"][0]["kind"] = "nope"
    with pytest.raises(ConfigError, match="unknown kind 'nope'"):
        _rules(cfg, tree)
    tree = copy.deepcopy(TREE)
    tree["events"]["rules"][0] = {"reason": "x", "kind": "between", "column": "c", "max": "$nokey"}
    with pytest.raises(ConfigError, match=r"'\$nokey' is not a key of the validate: config"):
        _rules(cfg, tree)


ROWS = [ev("a"), ev("b", user="u2", pos=0), ev("c", user=None), ev("d", user="u3", etype="clik"),
        ev("e", user="u4", query="?!"), ev("f", user="u5", query=None, pos=None)]


@pytest.fixture(scope="module")
def flagged(spark, cfg):
    return Q.flag_events(events_df(spark, ROWS), catalog_df(spark), rules=_rules(cfg, TREE),
                         run_date=D).cache()


def _by(outcomes, batch, etype, column):
    return [o for o in outcomes if o.batch == batch and o.expectation == etype
            and o.column == column]


def test_gx_counts_on_input_and_clean_batches_pandas(cfg, flagged):
    from pyspark.sql import functions as F

    rules = _rules(cfg, TREE)
    outs, times = run_suites({"events_input": (rules, flagged),
                              "events_clean": (rules, flagged.filter(F.col("reason").isNull()))},
                             engine="pandas", docs_dir=None)
    assert all(o.success for o in outs if o.batch == "events_clean")
    [nn] = _by(outs, "events_input", "expect_column_values_to_not_be_null", "user_id")
    assert (nn.success, nn.observed, nn.element_count) == (False, 1.0, 6)
    [pos] = _by(outs, "events_input", "expect_column_values_to_be_between", "position")
    assert (pos.success, pos.observed) == (False, 1.0)
    [et] = _by(outs, "events_input", "expect_column_values_to_be_in_set", "event_type")
    assert et.observed == 1.0
    [q] = _by(outs, "events_input", "expect_column_values_to_be_between", "_query_norm_len")
    assert q.observed == 1.0
    assert set(times) == {"gx_setup", "gx_events_input", "gx_events_clean"}


def test_gx_spark_engine_and_data_docs(cfg, flagged, tmp_root):
    from pyspark.sql import functions as F

    rules = _rules(cfg, TREE)
    docs = str(tmp_root / "validate-docs")
    outs, _ = run_suites({"events_clean": (rules, flagged.filter(F.col("reason").isNull()))},
                         engine="spark", docs_dir=docs)
    assert len(outs) == len(build_expectations(rules, "spark"))
    assert all(o.success for o in outs), [o for o in outs if not o.success]
    [rc] = [o for o in outs if o.expectation == "expect_table_row_count_to_be_between"]
    assert rc.observed == 2.0  # rows a and f are clean
    assert os.path.exists(os.path.join(docs, "index.html"))
