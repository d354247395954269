"""The row-level quarantine filter, generated from a :class:`RuleSet` (conf/rules.yaml).

Pure DataFrame transforms (no IO, no now(); the run date is an argument). A *prepared* frame
keeps the contract column names with canonical values (event type trimmed + lower-cased, query
normalised) and the raw values in ``_raw_*`` columns, so quarantined rows are written unchanged.
``flag_rows`` adds ``reason`` (first failing rule, null = clean) plus the helper columns that the
Great Expectations suite checks (``helper_column(rule)``), so GX sees exactly what the filter saw.

Partition routing (``with_event_date``) depends on the row alone, never on the run date, so a
rerun or a later run recomputing the same event date puts every row in the same partition:
``event_date = date(ts)``, except rows whose ts is null, in the future of their ingest date, or
more than ``max_age`` days before it: those go to their ``ingest_date`` partition (a run's own
ingest date is its run date).
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.text import normalize_query_col
from jobs.quality.rules import Rule, RuleSet

if TYPE_CHECKING:
    from collections.abc import Sequence

RAW_EVENT_COLUMNS = (C.EVENT_ID, C.USER_ID, C.SESSION_ID, C.QUERY, C.ITEM_ID, C.EVENT_TYPE, C.TS,
                     C.POSITION, C.INGEST_DATE)
CLEAN_EVENT_COLUMNS = (C.EVENT_ID, C.USER_ID, C.SESSION_ID, C.QUERY, C.ITEM_ID, C.EVENT_TYPE, C.TS,
                       C.POSITION, C.EVENT_DATE)
CATALOG_COLUMNS = (C.ITEM_ID, C.TITLE, C.CATEGORY, C.BRAND, C.PRICE, C.IN_STOCK, C.CREATED_AT)
CANONICAL = (C.EVENT_TYPE, C.QUERY)  # columns whose raw value is kept in _raw_<name>
Transform = Callable[[DataFrame], DataFrame]
ALIVE = "_alive"
ITEM_KNOWN = "_item_known"


def raw_name(column: str) -> str:
    return f"_raw_{column}"


def helper_column(rule: Rule) -> str | None:
    """The column ``flag_rows`` adds for ``rule`` so GX can check it (None: checks data columns)."""
    return {"not_after_ingest": "_ts_limit", "max_age_days": "_age_days",
            "in_catalog": ITEM_KNOWN, "max_per_group": f"_n_{rule.reason}",
            "max_in_window": f"_n_{rule.reason}", "query_text": "_query_norm_len"}.get(rule.kind)


def _rule_of(rules: RuleSet, kind: str) -> Rule | None:
    return next((r for r in rules.rules if r.kind == kind), None)


# ------------------------------------------------------------------ preparation
def with_event_date(rules: RuleSet) -> Transform:
    """Adds ``event_date`` (see the module doc: a function of the row alone)."""
    fut, old = _rule_of(rules, "not_after_ingest"), _rule_of(rules, "max_age_days")
    tol = int(fut["tolerance_days"]) if fut else 1
    max_age = int(old["days"]) if old else 36500

    def _apply(df: DataFrame) -> DataFrame:
        ts, ingest = F.col(C.TS), F.col(C.INGEST_DATE)
        limit = F.date_add(ingest, tol + 1).cast("timestamp")
        routed = (ts.isNull() | (ts >= limit)
                  | (F.datediff(ingest, F.to_date(ts)) > max_age))
        return df.withColumn(C.EVENT_DATE, F.when(routed, ingest).otherwise(F.to_date(ts)))

    return _apply


def drop_exact_duplicates(df: DataFrame, columns: Sequence[str]) -> DataFrame:
    """Rows identical in every column (event_id and ingest_date included) are kept once."""
    return df.dropDuplicates(list(columns))


def prepare_events(df: DataFrame) -> DataFrame:
    """Canonical event type (trim + lower) and normalised query; raw values kept in _raw_*."""
    return (df
            .withColumn(raw_name(C.EVENT_TYPE), F.col(C.EVENT_TYPE))
            .withColumn(raw_name(C.QUERY), F.col(C.QUERY))
            .withColumn(C.EVENT_TYPE, F.lower(F.trim(F.col(C.EVENT_TYPE))))
            .withColumn(C.QUERY, normalize_query_col(F.col(C.QUERY))))


def with_item_known(catalog_ids: DataFrame) -> Transform:
    """Adds ``_item_known`` (true when item_id is in the clean catalog; a broadcast join)."""
    ids = catalog_ids.select(C.ITEM_ID).distinct().withColumn(ITEM_KNOWN, F.lit(True))

    def _apply(df: DataFrame) -> DataFrame:
        return (df.join(F.broadcast(ids), on=C.ITEM_ID, how="left")
                .withColumn(ITEM_KNOWN, F.coalesce(F.col(ITEM_KNOWN), F.lit(False))))

    return _apply


# ------------------------------------------------------------------ rule predicates
def _failure(df: DataFrame, rule: Rule, run_date: date) -> tuple[DataFrame, Column]:
    """(df with any helper column, Column that is true when the row FAILS the rule)."""
    k, helper = rule.kind, helper_column(rule)
    if k == "not_null":
        col = F.col(rule["column"])
        return df, (col.isNull() | (F.trim(col) == "")) if rule.get("blank_is_null") else col.isNull()
    if k == "in_set":
        col = F.col(rule["column"])
        return df, col.isNull() | ~col.isin(list(rule["values"]))
    if k == "between":
        col, lo, hi = F.col(rule["column"]), rule.get("min"), rule.get("max")
        bad = F.lit(False)
        bad = bad | (col < F.lit(lo)) if lo is not None else bad
        bad = bad | (col > F.lit(hi)) if hi is not None else bad
        return df, col.isNotNull() & bad
    if k == "regex":
        col = F.col(rule["column"])
        return df, col.isNull() | ~col.rlike(rule["pattern"])
    if k == "not_after_ingest":
        df = df.withColumn(helper, F.date_add(F.col(C.INGEST_DATE),
                                              int(rule["tolerance_days"]) + 1).cast("timestamp"))
        return df, F.col(rule["column"]) >= F.col(helper)
    if k == "max_age_days":
        df = df.withColumn(helper, F.datediff(F.lit(run_date), F.to_date(F.col(rule["column"]))))
        return df, F.col(helper) > F.lit(int(rule["days"]))
    if k == "unique_key":
        w = Window.partitionBy(*rule["columns"], ALIVE).orderBy(
            *[F.col(c).asc_nulls_first() for c in rule["keep_first_by"]])
        rn = f"_rn_{rule.reason}"
        df = df.withColumn(rn, F.row_number().over(w))
        return df, F.col(ALIVE) & (F.col(rn) > 1)
    if k == "in_catalog":
        return df, ~F.col(ITEM_KNOWN)
    if k == "max_per_group":
        w = Window.partitionBy(*rule["group_by"], ALIVE).rowsBetween(
            Window.unboundedPreceding, Window.unboundedFollowing)
        df = df.withColumn(helper, F.count(F.lit(1)).over(w))
        return df, F.col(ALIVE) & (F.col(helper) > F.lit(int(rule["max"])))
    if k == "max_in_window":
        return _max_in_window(df, rule, helper)
    if k == "query_text":
        raw = F.col(raw_name(rule["column"]))
        df = df.withColumn(helper, F.length(F.col(rule["column"])))
        return df, raw.isNotNull() & (raw.rlike(rule["forbid_regex"])
                                      | (F.length(raw) > F.lit(int(rule["max_length"])))
                                      | (F.col(helper) == 0))
    raise ValueError(f"rule kind {k!r} has no Spark predicate")


def _max_in_window(df: DataFrame, rule: Rule, helper: str) -> tuple[DataFrame, Column]:
    """helper = the most matching rows of the row's group inside one window [t, t + w) (null
    when the group has none); the max over windows starting at each matching row is the max
    over all windows. Ties (same ts) share a window. Only alive rows with a non-null group key
    and ts are counted, and only alive rows fail."""
    keys, t = list(rule["group_by"]), F.col(rule["time_column"])
    counted = (F.col(ALIVE) & t.isNotNull() & F.col(rule["column"]).isin(list(rule["values"])))
    for key in keys:
        counted &= F.col(key).isNotNull()
    hit, us = f"_hit_{rule.reason}", f"_us_{rule.reason}"
    span = int(rule["window_seconds"]) * 1_000_000
    w = Window.partitionBy(*keys, hit).orderBy(us).rangeBetween(0, span - 1)
    group = Window.partitionBy(*keys, ALIVE).rowsBetween(Window.unboundedPreceding,
                                                         Window.unboundedFollowing)
    df = (df.withColumn(hit, F.coalesce(counted, F.lit(False)))
          .withColumn(us, F.unix_micros(t))
          .withColumn(helper, F.when(F.col(hit), F.count(F.lit(1)).over(w)))
          .withColumn(helper, F.max(helper).over(group))
          .drop(hit, us))
    return df, F.col(ALIVE) & (F.col(helper) > F.lit(int(rule["max"])))


def flag_rows(rules: RuleSet, run_date: date) -> Transform:
    """Adds ``reason``: the first rule (in file order) the row fails, null when it passes all."""

    def _apply(df: DataFrame) -> DataFrame:
        df = df.withColumn(C.REASON, F.lit(None).cast("string"))
        for rule in rules.rules:
            if rule.kind in ("unique_key", "max_per_group", "max_in_window"):
                df = df.withColumn(ALIVE, F.col(C.REASON).isNull())
            df, fails = _failure(df, rule, run_date)
            df = df.withColumn(C.REASON, F.when(F.col(C.REASON).isNull() & F.coalesce(
                fails, F.lit(False)), F.lit(rule.reason)).otherwise(F.col(C.REASON)))
        return df.drop(ALIVE, *[c for c in df.columns if c.startswith("_rn_")])

    return _apply


# ------------------------------------------------------------------ event outputs
def flag_events(raw: DataFrame, catalog_ids: DataFrame, *, rules: RuleSet,
                run_date: date) -> DataFrame:
    """raw_events rows (exact duplicates already dropped) -> prepared + helpers + reason."""
    return (raw.select(*RAW_EVENT_COLUMNS)
            .transform(with_event_date(rules))
            .transform(prepare_events)
            .transform(with_item_known(catalog_ids))
            .transform(flag_rows(rules, run_date)))


def clean_events(flagged: DataFrame) -> DataFrame:
    return flagged.filter(F.col(C.REASON).isNull()).select(*CLEAN_EVENT_COLUMNS)


def quarantine_events(flagged: DataFrame, *, run_date: date, rule_version: str) -> DataFrame:
    """Rejected rows exactly as they arrived, with reason, run date and rule version."""
    raw = [F.col(raw_name(c)).alias(c) if c in CANONICAL else F.col(c) for c in RAW_EVENT_COLUMNS]
    return (flagged.filter(F.col(C.REASON).isNotNull())
            .select(*raw, C.REASON, F.lit(run_date).alias(C.RUN_DATE),
                    F.lit(rule_version).alias(C.RULE_VERSION), C.EVENT_DATE))


# ------------------------------------------------------------------ catalog outputs
def flag_catalog(raw: DataFrame, *, rules: RuleSet, run_date: date) -> DataFrame:
    return raw.select(*CATALOG_COLUMNS).transform(flag_rows(rules, run_date))


def clean_catalog(flagged: DataFrame) -> DataFrame:
    return flagged.filter(F.col(C.REASON).isNull()).select(*CATALOG_COLUMNS)


def quarantine_catalog(flagged: DataFrame, *, run_date: date, rule_version: str) -> DataFrame:
    return (flagged.filter(F.col(C.REASON).isNotNull())
            .select(*CATALOG_COLUMNS, C.REASON, F.lit(run_date).alias(C.RUN_DATE),
                    F.lit(rule_version).alias(C.RULE_VERSION)))
