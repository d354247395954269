"""Train the LightGBM lambdarank ranker, evaluate it, gate it, register it (and maybe promote it).

Reads ``training_set`` (partition run_date = D; its Delta version is recorded), and for the
evaluation ``catalog_clean`` (category, catalogue size) and ``truth_utility`` (oracle; synthetic
data only) when they exist. Writes no table: the output is a registry version under
``<artifacts_root>/models/<version>/`` (model.txt, metadata.json, evaluation.json, report.html)
and, if the gate passes, the champion pointer. The report path is printed.

    ranklake train --env local --run-date 2026-11-20 [--no-promote] [--force-promote]
    spark-submit jobs/main.py train --env emr --run-date 2026-11-20

One shared model for all list types. Query, user and item lists are trained as one lambdarank
problem with the numeric feature ``list_type_code`` (query=0, user=1, item=2): the item-quality
signal (CTR, conversion, freshness) is shared across list types and learned from all the data,
trees split on ``list_type_code`` where the types differ, there is one champion, one gate and one
artifact to roll back, and the top-K job scores every list with the same model. Evaluation is
still reported per list type (and per segment), so a regression in one type is visible.

Backends (``train.backend``): ``local`` (driver, bounded by ``train.max_local_rows``), ``spark``
(barrier-mode data-parallel LightGBM), ``synapseml`` (LightGBMRanker; needs its jars). All
produce LightGBM's native text model. Early stopping watches validation NDCG@10.

Gate: promote only if test NDCG@10 >= ``train.gate_min_ndcg10`` and it is not more than
``train.gate_max_regression`` (relative) below the current champion re-scored on the same test
rows; otherwise the version is registered with its failed gate and ``GateFailed`` (exit 4) is
raised — the champion and the published lists stay. Backfill safety: a model trained for an
older run date never replaces a champion trained for a newer one unless ``--force-promote``.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from jobs import evaluate as E
from jobs import registry
from jobs.common import columns as C
from jobs.common.cli import run_module
from jobs.common.delta import read_table, table_exists, table_version
from jobs.common.errors import DataError, GateFailed, RegistryError
from jobs.common.log import get_logger
from jobs.trainers import get_trainer, spec_from_conf
from jobs.trainers.local import bounded_collect

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from jobs.common.cli import JobContext
    from jobs.trainers.base import TrainSpec

log = get_logger("train")
KEYS = (C.LIST_TYPE, C.GROUP_ID, C.ENTITY_ID, C.ITEM_ID, C.LABEL)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-promote", action="store_true", help="register and evaluate, never promote")
    p.add_argument("--force-promote", action="store_true",
                   help="promote even over a champion trained for a newer run date (backfills)")


def select_split(df: DataFrame, split: str, features: tuple[str, ...]) -> DataFrame:
    from pyspark.sql import functions as F

    return df.where(F.col(C.SPLIT) == split).select(*KEYS, *features)


def with_eval_columns(test: DataFrame, train: DataFrame, catalog: DataFrame | None = None,
                      truth: DataFrame | None = None) -> DataFrame:
    """Test rows + train-split statistics the baselines and segments need (no test leakage)."""
    from pyspark.sql import functions as F

    pop = train.groupBy(C.ITEM_ID).agg(F.sum(C.LABEL).cast("double").alias(E.POP),
                                       F.lit(True).alias(E.ITEM_SEEN))
    popq = (train.where(F.col(C.LIST_TYPE) == "query").groupBy(C.ENTITY_ID, C.ITEM_ID)
            .agg(F.sum(C.LABEL).cast("double").alias(E.POP_QUERY)))
    vol = (train.groupBy(C.LIST_TYPE, C.ENTITY_ID)
           .agg(F.countDistinct(C.GROUP_ID).cast("double").alias(E.ENTITY_VOLUME)))
    out = (test.join(pop, C.ITEM_ID, how="left").join(popq, [C.ENTITY_ID, C.ITEM_ID], how="left")
           .join(vol, [C.LIST_TYPE, C.ENTITY_ID], how="left")
           .withColumn(E.ENTITY_SEEN, F.col(E.ENTITY_VOLUME).isNotNull())
           .withColumn(E.ITEM_SEEN, F.coalesce(F.col(E.ITEM_SEEN), F.lit(False))))
    if catalog is not None:
        cat = catalog.select(C.ITEM_ID, C.CATEGORY)
        cpop = (train.join(cat, C.ITEM_ID, how="inner").groupBy(C.CATEGORY)
                .agg(F.sum(C.LABEL).cast("double").alias(E.POP_CATEGORY)))
        out = out.join(cat, C.ITEM_ID, how="left").join(cpop, C.CATEGORY, how="left")
    else:
        out = out.withColumn(E.POP_CATEGORY, F.lit(None).cast("double"))
    if truth is not None:
        t = truth.select(F.col(C.ENTITY_TYPE).alias(C.LIST_TYPE), C.ENTITY_ID, C.ITEM_ID,
                         F.col(C.UTILITY).alias(E.TRUTH))
        out = out.join(t, [C.LIST_TYPE, C.ENTITY_ID, C.ITEM_ID], how="left")
    else:
        out = out.withColumn(E.TRUTH, F.lit(None).cast("double"))
    cols = [c for c in test.columns] + [E.POP, E.POP_QUERY, E.POP_CATEGORY, E.ITEM_SEEN,
                                        E.ENTITY_VOLUME, E.ENTITY_SEEN, E.TRUTH]
    return out.select(*cols)


def champion_scores(cfg: Any, test: pd.DataFrame) -> tuple[registry.Model | None, np.ndarray | None]:
    try:
        champ = registry.load_champion(cfg)
    except RegistryError as exc:
        log.info("no usable champion (%s): first run, floors only", exc)
        return None, None
    try:
        return champ, champ.predict(test)
    except RegistryError as exc:  # its features are gone: compare with its recorded metric
        log.warning("champion %s cannot be re-scored (%s); using its recorded ndcg@10",
                    champ.version, exc)
        return champ, None


def filter_sample_groups(fraction: float, seed: int):
    """Keep about ``fraction`` of the groups, whole, chosen by a seeded hash of the group id
    (deterministic: the same fraction and seed keep the same groups on every rerun)."""
    def apply(df: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        bucket = F.pmod(F.xxhash64(F.col(C.GROUP_ID), F.lit(seed)), F.lit(10_000))
        return df.where(bucket < F.lit(int(round(fraction * 10_000))))
    return apply


def _spec(cfg: Any, features: tuple[str, ...]) -> TrainSpec:
    return spec_from_conf(cfg.train, features)


def run(ctx: JobContext) -> None:
    cfg, spark, d, rec = ctx.cfg, ctx.spark, ctx.run_date, ctx.rec
    features = tuple(C.FEATURE_COLUMNS)
    ts_version = table_version(cfg, "training_set")
    data = read_table(spark, cfg, "training_set", version=ts_version,
                      filters=[(C.RUN_DATE, "=", d)])
    rec.read("training_set", ts_version)
    missing = [c for c in (*KEYS, C.SPLIT, *features) if c not in data.columns]
    if missing:
        raise DataError(f"training_set lacks column(s) {missing[:8]}; rerun `ranklake features`")
    data = data.cache()
    spec = _spec(cfg, features)
    train, valid = select_split(data, "train", features), select_split(data, "validation", features)
    if cfg.train.sample_fraction < 1.0:
        train = train.transform(filter_sample_groups(cfg.train.sample_fraction, cfg.train.seed))
        rec.count("train_sample_fraction", cfg.train.sample_fraction)
    with rec.stage("fit"):
        result = get_trainer(cfg.train.backend).fit(train, valid, spec)
    rec.count("rows_train", result.rows_train)
    rec.count("rows_valid", result.rows_valid)
    rec.count("best_iteration", result.best_iteration)
    with rec.stage("evaluate"):
        catalog = read_table(spark, cfg, "catalog_clean") if table_exists(cfg, "catalog_clean") else None
        truth = read_table(spark, cfg, "truth_utility") if table_exists(cfg, "truth_utility") else None
        if catalog is not None:
            rec.read("catalog_clean", table_version(cfg, "catalog_clean"))
        if truth is not None:
            rec.read("truth_utility", table_version(cfg, "truth_utility"))
        test_df = with_eval_columns(select_split(data, "test", features), train, catalog, truth)
        test, test_frac = bounded_collect(test_df, spec, "test split")
        if test.empty:
            raise DataError(f"training_set run_date={d}: the test split is empty")
        test = test.sort_values([C.GROUP_ID, C.ITEM_ID], kind="mergesort").reset_index(drop=True)
        cat_size = catalog.count() if catalog is not None else data.select(C.ITEM_ID).distinct().count()
        import lightgbm as lgb

        booster = lgb.Booster(model_str=result.model_text)
        scores = booster.predict(test[list(features)].to_numpy(np.float64, na_value=np.nan))
        champ, champ_scores = champion_scores(cfg, test)
        extra = {"champion": champ_scores} if champ_scores is not None else {}
        ev = E.evaluate(test, scores, ks=cfg.train.eval_at, seed=cfg.train.seed,
                        catalogue_size=cat_size, extra=extra)
    rec.count("rows_test", ev.n_rows)
    new10 = ev.ndcg10()
    champ10 = (ev.ndcg10("champion") if champ_scores is not None else
               (champ.metadata.get("metrics", {}).get("ndcg@10") if champ else None))
    g = E.gate(new10, champ10, min_ndcg10=cfg.train.gate_min_ndcg10,
               max_regression=cfg.train.gate_max_regression)
    gain = booster.feature_importance("gain")
    meta = {"run_date": str(d), "backend": result.backend, "feature_columns": list(features),
            "params": result.params, "seed": cfg.train.seed, "best_iteration": result.best_iteration,
            "train": result.to_dict(), "metrics": ev.scorers["model"].overall,
            "metrics_by_list_type": ev.scorers["model"].by_list_type,
            "baselines": {k: v.overall["ndcg@10"] for k, v in ev.scorers.items() if k != "model"},
            "model_vs": {k: {x: c[x] for x in ("diff", "ci", "clearly_better", "n_groups")}
                         for k, c in ev.comparisons.items()},
            "oracle": ev.oracle, "data_versions": {k: v for k, v in rec.reads.items()},
            "test_sampled_fraction": test_frac, "champion_at_training": champ.version if champ else None,
            "gate": {"passed": g.passed, "message": g.message, "checks": g.checks},
            "feature_importance": {f: float(v) for f, v in zip(features, gain)}}
    from jobs.report import render_html

    evd = ev.to_dict()
    html = render_html(evd, meta)
    version = registry.register(cfg, result.model_text, meta,
                                {"evaluation.json": json.dumps(evd, default=float).encode(),
                                 "report.html": html.encode()})
    report_uri = registry.store(cfg).uri(f"{version}/report.html")
    print(f"ranklake train: model {version} ndcg@10={new10:.4f}; report: {report_uri}")
    rec.count("model_version", version)
    rec.count("ndcg@10", round(new10, 4))
    rec.info["report"] = report_uri
    data.unpersist()
    if not g.passed:
        raise GateFailed(f"model {version} not promoted: {g.message}; champion "
                         f"{champ.version if champ else '(none)'} stays")
    promoted = decide_promotion(cfg, version, str(d), champ, ctx.args)
    rec.count("promoted", promoted)


def decide_promotion(cfg: Any, version: str, run_date: str, champ: registry.Model | None,
                     args: argparse.Namespace) -> bool:
    if getattr(args, "no_promote", False):
        print(f"ranklake train: --no-promote: {version} registered, champion unchanged")
        return False
    champ_date = str(champ.metadata.get("run_date")) if champ else None
    if champ_date and champ_date > run_date and not getattr(args, "force_promote", False):
        print(f"ranklake train: {version} (run date {run_date}) not promoted over champion "
              f"{champ.version} trained for the newer run date {champ_date} "  # type: ignore[union-attr]
              "(backfill rule; --force-promote overrides)")
        return False
    registry.promote(cfg, version, "train gate passed")
    print(f"ranklake train: champion is now {version}")
    return True


if __name__ == "__main__":
    sys.exit(run_module("train"))
