"""Validate raw events (and the catalog): clean + quarantine tables, GX Data Docs, batch checks.

Reads ``raw_catalog`` (snapshot) and ``raw_events`` (partition ``ingest_date``); writes
``catalog_clean`` (overwrite), ``catalog_quarantine`` (replace partition ``run_date``),
``interactions_clean`` and ``interactions_quarantine`` (replace only the ``event_date``
partitions recomputed) and ``validation_results`` (replace partition ``run_date``).
Rules: conf/rules.yaml (one definition for the quarantine filter and the GX suites).

Which event dates: every event date of a raw row ingested in the window
``(D - validate.window_days, D]`` plus the window dates themselves. Each of those partitions is
recomputed completely from *all* raw rows of that event date ingested up to D, so late data lands
in its own event-date partition without losing the rows already there, and a rerun of D writes
identical tables. A row's partition depends only on the row (``filters.with_event_date``): rows
with a null ts, a ts in the future of their ingest date or an absurdly old ts are quarantined
under their ingest date (= the run date for a run's own ingest).

Reconciliation (raises DataError before writing when it does not hold):
rows in = clean + quarantined + exact duplicates dropped.
Batch checks (CheckFailed, exit 3, after validation_results is written): volume per window
date vs trailing window, bot share (every rule marked ``bot: true``: too many events per day,
inhuman click rate), clean rate, the GX suite on the clean batch.

    ranklake validate --env local --run-date 2026-11-20
    spark-submit jobs/main.py validate --env emr --run-date 2026-11-20
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.cli import run_module
from jobs.common.config import artifacts_root, join
from jobs.common.delta import read_table, table_exists, write_table_result
from jobs.common.errors import DataError
from jobs.quality import checks
from jobs.quality import filters as Q
from jobs.quality.rules import RuleSet, load_rules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from jobs.common.cli import JobContext
    from jobs.common.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-docs", action="store_true", help="skip writing GX Data Docs HTML")


def transform(raw_events: DataFrame, catalog_ids: DataFrame, *, rules: RuleSet,
              run_date: date) -> tuple[DataFrame, DataFrame, DataFrame]:
    """raw events (exact duplicates dropped) -> (flagged, clean, quarantine)."""
    flagged = Q.flag_events(raw_events, catalog_ids, rules=rules, run_date=run_date)
    return (flagged, Q.clean_events(flagged),
            Q.quarantine_events(flagged, run_date=run_date, rule_version=rules.version))


def docs_dir(cfg: Settings, run_date: date) -> str:
    return join(artifacts_root(cfg), "validation", run_date.isoformat())


def affected_event_dates(spark: SparkSession, cfg: Settings, rules: RuleSet,
                         run_date: date) -> tuple[list[date], list[date]]:
    """(window ingest dates, event-date partitions to recompute)."""
    window = [run_date - timedelta(days=i) for i in range(cfg.validate_.window_days)][::-1]
    new = read_table(spark, cfg, "raw_events", filters=[(C.INGEST_DATE, "in", window)],
                     columns=[C.TS, C.INGEST_DATE])
    dates = {r[0] for r in new.transform(Q.with_event_date(rules)).select(C.EVENT_DATE)
             .distinct().collect()}  # one row per event date
    return window, sorted(dates | set(window))


def read_events(spark: SparkSession, cfg: Settings, rules: RuleSet, run_date: date,
                event_dates: list[date]) -> DataFrame:
    """All raw rows of ``event_dates`` ingested up to the run date (see the module doc)."""
    lo = min(event_dates) - timedelta(days=1)  # date(ts) <= ingest_date + 1 for routed-by-ts rows
    raw = read_table(spark, cfg, "raw_events",
                     filters=[(C.INGEST_DATE, ">=", lo), (C.INGEST_DATE, "<=", run_date)])
    return (raw.transform(Q.with_event_date(rules))
            .filter(F.col(C.EVENT_DATE).isin(event_dates)).select(*Q.RAW_EVENT_COLUMNS))


def validate_catalog(ctx: JobContext, rules: RuleSet) -> tuple[DataFrame, DataFrame | None]:
    """Write catalog_clean / catalog_quarantine; return (clean catalog, flagged or None)."""
    cfg, spark, rec, run_date = ctx.cfg, ctx.spark, ctx.rec, ctx.run_date
    if not table_exists(cfg, "raw_catalog"):
        if table_exists(cfg, "catalog_clean"):
            rec.info["catalog"] = "raw_catalog absent: using the existing catalog_clean"
            return read_table(spark, cfg, "catalog_clean"), None
        raise DataError("neither raw_catalog nor catalog_clean exists; run generate or import")
    raw = read_table(spark, cfg, "raw_catalog").select(*Q.CATALOG_COLUMNS)
    rows_in = raw.count()
    dedup = Q.drop_exact_duplicates(raw, Q.CATALOG_COLUMNS)
    flagged = Q.flag_catalog(dedup, rules=rules, run_date=run_date).persist()
    by_reason = {r[0]: r[1] for r in flagged.groupBy(C.REASON).count().collect()}
    clean_n = by_reason.pop(None, 0)
    quarantined = sum(by_reason.values())
    exact = rows_in - dedup.count()
    recon = checks.reconciliation_check(rows_in, clean_n, quarantined, exact)
    if recon.status == checks.FAILED:
        raise DataError(f"catalog {recon.message}; nothing was written")
    clean = Q.clean_catalog(flagged)
    res = write_table_result(clean, cfg, "catalog_clean", mode="overwrite")
    rec.wrote("catalog_clean", res.version, res.rows)
    qres = write_table_result(Q.quarantine_catalog(flagged, run_date=run_date,
                                                   rule_version=rules.version),
                              cfg, "catalog_quarantine", mode="replace",
                              partitions={C.RUN_DATE: [run_date]})
    rec.wrote("catalog_quarantine", qres.version, qres.rows)
    for k, v in {"catalog_in": rows_in, "catalog_clean": clean_n,
                 "catalog_quarantined": quarantined, "catalog_exact_duplicates": exact}.items():
        rec.count(k, v)
    rec.info["catalog_reasons"] = by_reason
    return clean, flagged


def clean_history(spark: SparkSession, cfg: Settings, start: date, end: date) -> dict[date, int]:
    df = read_table(spark, cfg, "interactions_clean",
                    filters=[(C.EVENT_DATE, ">=", start), (C.EVENT_DATE, "<=", end)],
                    columns=[C.EVENT_DATE])
    return {r[0]: r[1] for r in df.groupBy(C.EVENT_DATE).count().collect()}  # one row per date


def run_gx(cfg: Settings, batches: dict[str, tuple[RuleSet, DataFrame]], run_date: date,
           with_docs: bool) -> tuple[list[checks.CheckResult], dict[str, float], str | None]:
    vc = cfg.validate_
    if vc.gx_engine == "off":
        return [checks.CheckResult("gx_suite", checks.SKIPPED, None, "",
                                   "GX suites skipped (validate.gx_engine=off)")], {}, None
    from jobs.quality.gx_suite import run_suites

    if not vc.gx_input_batch:
        batches = {k: v for k, v in batches.items() if not k.endswith("_input")}
    docs = docs_dir(cfg, run_date) if with_docs else None
    outcomes, timings = run_suites(batches, engine=vc.gx_engine, docs_dir=docs,
                                   sample_rows=vc.gx_sample_rows, run_name=f"validate-{run_date}")
    return checks.gx_checks(outcomes), timings, (join(docs, "index.html") if docs else None)


def run(ctx: JobContext) -> dict[str, Any]:
    cfg, spark, rec, run_date = ctx.cfg, ctx.spark, ctx.rec, ctx.run_date
    vc = cfg.validate_
    rules = load_rules(cfg)
    ev_rules, cat_rules = rules["events"], rules["catalog"]
    rec.info["rule_version"] = ev_rules.version
    if not table_exists(cfg, "raw_events"):
        raise DataError("table 'raw_events' does not exist; run `ranklake generate` or `import`")
    with rec.stage("catalog"):
        catalog, cat_flagged = validate_catalog(ctx, cat_rules)
    with rec.stage("read"):
        window, event_dates = affected_event_dates(spark, cfg, ev_rules, run_date)
        raw = read_events(spark, cfg, ev_rules, run_date, event_dates)
        rows_in = raw.count()
        dedup = Q.drop_exact_duplicates(raw, Q.RAW_EVENT_COLUMNS)
        dedup_n = dedup.count()
    with rec.stage("filter"):
        flagged, clean, quarantine = transform(dedup, catalog.select(C.ITEM_ID), rules=ev_rules,
                                               run_date=run_date)
        flagged = flagged.persist()
        reasons = {r[0]: r[1] for r in flagged.groupBy(C.REASON).count().collect()}
        clean_n = reasons.pop(None, 0)
        quarantined = sum(reasons.values())
    counts = {"rows_in": rows_in, "clean": clean_n, "quarantined": quarantined,
              "exact_duplicates": rows_in - dedup_n}
    for k, v in counts.items():
        rec.count(k, v)
    rec.count("quarantined_by_reason", dict(sorted(reasons.items())))
    rec.info["event_dates"] = [d.isoformat() for d in event_dates]
    recon = checks.reconciliation_check(rows_in, clean_n, quarantined, counts["exact_duplicates"])
    if recon.status == checks.FAILED:
        raise DataError(f"{recon.message}; nothing was written")
    with rec.stage("write"):
        for name, df in (("interactions_clean", clean), ("interactions_quarantine", quarantine)):
            res = write_table_result(df, cfg, name, mode="replace",
                                     partitions={C.EVENT_DATE: event_dates})
            rec.wrote(name, res.version, res.rows)
    with rec.stage("checks"):
        results = [recon]
        history = clean_history(spark, cfg, window[0] - timedelta(days=vc.volume_window_days),
                                run_date)
        results += [checks.volume_check(d, history.get(d, 0), history, k=vc.volume_k_sigma,
                                        window_days=vc.volume_window_days,
                                        min_history=vc.volume_min_history_days) for d in window]
        rows = clean_n + quarantined
        bots = checks.bot_rows_by_reason(reasons, ev_rules.bot_reasons)
        results.append(checks.bot_share_check(sum(bots.values()), rows, vc.bot_max_share, bots))
        results.append(checks.clean_rate_check(clean_n, rows, vc.min_clean_rate))
    with rec.stage("gx"):
        batches: dict[str, tuple[RuleSet, DataFrame]] = {
            "events_input": (ev_rules, flagged),
            "events_clean": (ev_rules, flagged.filter(F.col(C.REASON).isNull()))}
        if cat_flagged is not None:
            batches["catalog_input"] = (cat_rules, cat_flagged)
            batches["catalog_clean"] = (cat_rules, cat_flagged.filter(F.col(C.REASON).isNull()))
        t0 = time.monotonic()
        gx_results, gx_times, docs = run_gx(cfg, batches, run_date, not ctx.args.no_docs)
        rec.stages.update({k: round(v, 3) for k, v in gx_times.items()})
        rec.info["gx_seconds"] = round(time.monotonic() - t0, 3)
        results += gx_results
    res = write_table_result(checks.results_frame(spark, results, run_date=run_date,
                                                  rule_version=ev_rules.version),
                             cfg, "validation_results", mode="replace",
                             partitions={C.RUN_DATE: [run_date]})
    rec.wrote("validation_results", res.version, res.rows)
    if docs:
        rec.info["data_docs"] = docs
    print(checks.summary_text(run_date, {**counts, "event_dates": len(event_dates),
                                         **{k: v for k, v in rec.counts.items()
                                            if k.startswith("catalog_")}},
                              reasons, results, docs))
    flagged.unpersist()
    if cat_flagged is not None:
        cat_flagged.unpersist()
    checks.raise_if_failed(results)
    return counts


if __name__ == "__main__":
    sys.exit(run_module("validate"))
