"""ranklake generate: determinism, schemas, exact dirty-row manifest, late data, truth utility."""
from __future__ import annotations

import argparse

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.common import columns as C
from jobs.common.cli import main
from jobs.common.config import load_config
from jobs.common.delta import read_table
from jobs.common.text import normalize_query

EVENTS, DAYS, DIRTY, BOT_MAX, MAX_AGE = 5000, 10, 0.06, 100, 365
CLICK_MAX, CLICK_WINDOW_S = 20, 60  # validate.bot_max_clicks_per_window / _window_seconds defaults
ARGS = ["--events", str(EVENTS), "--days", str(DAYS), "--seed", "11", "--dirty-fraction", str(DIRTY),
        "--conf", f"validate.bot_max_events_per_day={BOT_MAX}"]
TABLES = ["raw_events", "raw_catalog", "raw_users", "judgments", "truth_utility", "truth_dirty"]
CONTRACT = {
    "raw_events": "event_id:string,user_id:string,session_id:string,query:string,item_id:string,"
                  "event_type:string,ts:timestamp,position:int,ingest_date:date",
    "raw_catalog": "item_id:string,title:string,category:string,brand:string,price:double,"
                   "in_stock:boolean,created_at:timestamp",
    "raw_users": "user_id:string,segment:string,signup_date:date",
    "judgments": "query:string,item_id:string,grade:int",
    "truth_utility": "entity_type:string,entity_id:string,item_id:string,utility:double",
    "truth_dirty": "event_id:string,injected_reason:string,ingest_date:date",
}


def _generate(tmp_root, name: str, extra: list[str] = ()) -> object:
    root = tmp_root / "gen" / name
    code = main(["generate", "--env", "test", "--conf", f"lake.root={root}", *ARGS, *extra])
    assert code == 0
    return load_config("test", [f"lake.root={root}", f"validate.bot_max_events_per_day={BOT_MAX}"])


@pytest.fixture(scope="module")
def run_a(spark, tmp_root):
    return _generate(tmp_root, "a")


def _rerun(spark, cfg, seed: int) -> dict:
    """A second, independent run of the generator in this process (frames, not written)."""
    from jobs.gen import world as world_mod
    from jobs.gen.plan import make_plan
    from jobs.generate import dimension_frames, event_frames, generated_events, settings

    world_mod.get_world.cache_clear()
    ns = argparse.Namespace(events=EVENTS, days=DAYS, seed=seed, users=None, items=None, queries=None,
                            dirty_fraction=DIRTY, bot_users=None, end_date=None)
    plan = make_plan(settings(cfg, ns))
    gen = generated_events(spark, plan).persist()  # compute the events once for all comparisons
    return {**dimension_frames(spark, plan, seed), **event_frames(gen)}


def test_same_seed_gives_identical_tables(spark, run_a):
    again = _rerun(spark, run_a, 11)
    assert set(again) == set(TABLES)
    for t in TABLES:
        assertDataFrameEqual(again[t], read_table(spark, run_a, t))


def test_different_seed_gives_different_data(spark, run_a):
    other = _rerun(spark, run_a, 12)
    for t in ("raw_events", "raw_catalog", "truth_utility"):
        mine = read_table(spark, run_a, t)
        assert mine.exceptAll(other[t]).count() > mine.count() * 0.5, t


def test_schemas_match_the_contract(spark, run_a):
    for t in TABLES:
        got = ",".join(f"{f.name}:{f.dataType.simpleString()}" for f in read_table(spark, run_a, t).schema)
        assert got == CONTRACT[t], t


def test_event_count_and_dirty_fraction_are_exact(spark, run_a):
    events = read_table(spark, run_a, "raw_events")
    dirty = read_table(spark, run_a, "truth_dirty")
    assert events.count() == EVENTS
    assert dirty.count() == round(EVENTS * DIRTY)
    reasons = {r["injected_reason"]: r["count"] for r in dirty.groupBy("injected_reason").count().collect()}
    assert reasons.pop("bot_user", 0) > BOT_MAX  # one bot day fits into half the dirty budget
    assert CLICK_MAX < reasons.pop("bot_click_rate", 0) <= BOT_MAX  # one fast clicker
    assert set(reasons) == {"null_user_id", "null_item_id", "unknown_event_type", "future_timestamp",
                            "too_old", "duplicate", "unknown_item", "bad_position", "malformed_query",
                            "exact_duplicate"}
    assert max(reasons.values()) - min(reasons.values()) <= 1  # evenly split


def _flagged(spark, cfg) -> dict[str, set[str]]:
    """An independent implementation of every rule: which event ids does each rule flag?"""
    ev = read_table(spark, cfg, "raw_events")
    cat = read_table(spark, cfg, "raw_catalog").select(C.ITEM_ID)
    et = F.lower(F.trim(F.col(C.EVENT_TYPE)))
    q = F.col(C.QUERY)
    rules = {
        "null_user_id": F.col(C.USER_ID).isNull() | (F.trim(F.col(C.USER_ID)) == ""),
        "null_item_id": F.col(C.ITEM_ID).isNull(),
        "unknown_event_type": ~et.isin(*C.EVENT_TYPES),
        "future_timestamp": F.col(C.TS) >= F.date_add(F.col(C.INGEST_DATE), 2).cast("timestamp"),
        "too_old": F.col(C.TS) < F.date_sub(F.col(C.INGEST_DATE), MAX_AGE).cast("timestamp"),
        "bad_position": (F.col(C.POSITION) < 1) | (F.col(C.POSITION) > 1000),
        "malformed_query": q.rlike("[\\x00-\\x1f]") | (F.length(q) > 200)
                           | (q.isNotNull() & (F.trim(F.regexp_replace(q, "[^\\p{L}\\p{N}]+", "")) == "")),
    }
    out = {k: {r[0] for r in ev.where(cond).select(C.EVENT_ID).collect()} for k, cond in rules.items()}
    known = ev.where(F.col(C.ITEM_ID).isNotNull()).join(cat, C.ITEM_ID, "left_anti")
    out["unknown_item"] = {r[0] for r in known.select(C.EVENT_ID).collect()}
    day = ev.withColumn("d", F.to_date(C.TS)).where(F.col(C.USER_ID).isNotNull())
    heavy = day.groupBy(C.USER_ID, "d").count().where(F.col("count") > BOT_MAX)
    out["bot_user"] = {r[0] for r in day.join(heavy, [C.USER_ID, "d"], "inner").select(C.EVENT_ID).collect()}
    # inhuman click rate, by a self-join: clicks b with a.ts <= b.ts < a.ts + window
    clicks = day.where((et == C.CLICK) & (F.trim(F.col(C.USER_ID)) != "")).select(
        C.USER_ID, "d", F.unix_micros(C.TS).alias("us"), C.EVENT_ID).distinct()  # exact dups once
    a, b = clicks.alias("a"), clicks.alias("b")
    pairs = a.join(b, (F.col("a.user_id") == F.col("b.user_id")) & (F.col("a.d") == F.col("b.d"))
                   & (F.col("b.us") >= F.col("a.us"))
                   & (F.col("b.us") < F.col("a.us") + CLICK_WINDOW_S * 1_000_000), "inner")
    fast = (pairs.groupBy("a.user_id", "a.d", "a.event_id").count().where(F.col("count") > CLICK_MAX)
            .select(F.col("user_id").alias(C.USER_ID), "d").distinct())
    out["bot_click_rate"] = {r[0] for r in day.join(fast, [C.USER_ID, "d"], "inner")
                             .select(C.EVENT_ID).collect()}
    key = [C.USER_ID, C.ITEM_ID, C.EVENT_TYPE, C.TS]
    first = ev.groupBy(*key).agg(F.min(C.EVENT_ID).alias("first"))
    dups = ev.join(first, key, "inner").where(F.col(C.EVENT_ID) > F.col("first")).select(C.EVENT_ID)
    out["duplicate"] = {r[0] for r in dups.collect()}
    exact = ev.groupBy(*ev.columns).count().where(F.col("count") > 1)
    out["exact_duplicate"] = {r[C.EVENT_ID] for r in exact.collect() for _ in range(r["count"] - 1)}
    return out


def test_manifest_lists_exactly_the_bad_rows(spark, run_a):
    manifest = read_table(spark, run_a, "truth_dirty").collect()
    expected: dict[str, set[str]] = {}
    for r in manifest:
        expected.setdefault(r["injected_reason"], set()).add(r["event_id"])
    flagged = _flagged(spark, run_a)
    for reason, ids in flagged.items():
        assert ids == expected.get(reason, set()), reason
    # one problem per row: no event id is flagged by two rules
    all_ids = [i for ids in flagged.values() for i in ids]
    assert len(all_ids) == len(set(all_ids)) == len(manifest)


def test_late_data_and_odd_case_types_are_clean(spark, run_a):
    ev = read_table(spark, run_a, "raw_events")
    dirty = read_table(spark, run_a, "truth_dirty").select(C.EVENT_ID)
    clean = ev.join(dirty, C.EVENT_ID, "left_anti")
    lag = F.datediff(F.col(C.INGEST_DATE), F.to_date(C.TS))
    n_clean = clean.count()
    late = clean.where(lag > 0)
    assert clean.where(lag < 0).count() == 0
    assert late.where(lag > 3).count() == 0
    assert 0.004 < late.count() / n_clean < 0.02
    odd = clean.where(F.col(C.EVENT_TYPE) != F.lower(F.trim(F.col(C.EVENT_TYPE))))
    assert odd.count() > 0


def test_utility_recorded_for_every_impressed_pair(spark, run_a):
    ev = read_table(spark, run_a, "raw_events")
    # an exact duplicate shares its event id with the (clean) original
    dirty = read_table(spark, run_a, "truth_dirty").where("injected_reason != 'exact_duplicate'") \
        .select(C.EVENT_ID)
    imp = (ev.join(dirty, C.EVENT_ID, "left_anti")
           .where(F.lower(F.trim(F.col(C.EVENT_TYPE))) == C.IMPRESSION))
    truth = read_table(spark, run_a, "truth_utility")
    key = [C.ENTITY_TYPE, C.ENTITY_ID, C.ITEM_ID]
    assert truth.groupBy(*key).count().where("count > 1").count() == 0
    assert truth.where((F.col(C.UTILITY) <= 0) | (F.col(C.UTILITY) >= 1)).count() == 0
    users = imp.select(F.lit("user").alias(C.ENTITY_TYPE), F.col(C.USER_ID).alias(C.ENTITY_ID), C.ITEM_ID)
    norm = F.udf(normalize_query, "string")
    queries = imp.where(F.col(C.QUERY).isNotNull()).select(
        F.lit("query").alias(C.ENTITY_TYPE), norm(C.QUERY).alias(C.ENTITY_ID), C.ITEM_ID)
    wanted = users.unionByName(queries).distinct()
    assert wanted.join(truth, key, "left_anti").count() == 0
    assert truth.select(*key).join(wanted, key, "left_anti").count() == 0
    assert queries.count() > 0


def test_catalog_users_and_judgments_look_real(spark, run_a):
    cat = read_table(spark, run_a, "raw_catalog").collect()
    assert all(len(r[C.CATEGORY].split("/")) == 3 and r[C.PRICE] > 0 for r in cat)
    assert all(r[C.TITLE].startswith(r[C.BRAND]) for r in cat)
    assert 0.8 < sum(r[C.IN_STOCK] for r in cat) / len(cat) <= 1.0
    assert len({r[C.ITEM_ID] for r in cat}) == len(cat)
    users = read_table(spark, run_a, "raw_users")
    assert {r[0] for r in users.select(C.SEGMENT).distinct().collect()} <= {"new", "casual", "loyal", "power"}
    j = read_table(spark, run_a, "judgments")
    assert j.where(~F.col(C.GRADE).between(0, 3)).count() == 0
    assert j.select(C.GRADE).distinct().count() >= 2
    assert j.join(read_table(spark, run_a, "raw_catalog"), C.ITEM_ID, "left_anti").count() == 0
