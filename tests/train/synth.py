"""Synthetic training_set frames with a planted signal (until the features stage writes real data).

Each row's true utility is ``0.8*quality(item) + list-type specific relevance``; the model sees
noisy copies of those parts (i_ctr, txt_bm25_title, ui_clicks, ii_same_category), every other
feature is noise or null, and labels are graded draws from the utility, so NDCG is meaningful
and an oracle on the true utility beats the model, which beats popularity/text/random baselines.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from jobs.common import columns as C

FEATURES = list(C.FEATURE_COLUMNS)
LIST_TYPES = ("query", "user", "item")


def make_frame(n_groups: int = 240, seed: int = 0, items: int = 150, run_date: date = date(2026, 11, 20),
               group_size: tuple[int, int] = (8, 16)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training_set rows, truth_utility rows). Splits by time: 70% train, 15% validation, 15% test."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, items)
    queries = [f"query {i}" for i in range(30)]
    users = [f"u{i:03d}" for i in range(80)]
    n_train, n_valid = int(n_groups * 0.7), int(n_groups * 0.15)
    rows, truth, ctx_of = [], {}, {}
    for g in range(n_groups):
        lt = LIST_TYPES[g % 3]
        split = "train" if g < n_train else ("validation" if g < n_train + n_valid else "test")
        day = run_date - timedelta(days=int((n_groups - g) * 20 / n_groups))
        ent = {"query": queries[int(rng.integers(0, 10 if rng.random() < 0.6 else 30))],
               "user": users[int(rng.integers(0, 80))], "item": f"i{int(rng.integers(0, items)):03d}"}[lt]
        size = int(rng.integers(group_size[0], group_size[1] + 1))
        its = rng.choice(items, size=size, replace=False)
        # the list-type specific relevance of (entity, item): fixed per pair, so truth is exact
        ctx = np.array([ctx_of.setdefault((lt, ent, int(it)), float(rng.normal(0, 1))) for it in its])
        util = 0.8 * quality[its] + 1.2 * ctx
        grade = np.digitize(util + rng.gumbel(0, 0.6, size), [1.0, 1.9, 2.6])
        feats = {f: rng.normal(0, 1, size) for f in FEATURES}
        feats[C.LIST_TYPE_CODE] = np.full(size, float(C.LIST_TYPE_CODES[lt]))
        feats["i_ctr"] = quality[its] + rng.normal(0, 0.3, size)
        feats["i_clicks_long"] = np.round(np.exp(quality[its] + 2) + rng.normal(0, 1, size))
        nan = np.full(size, np.nan)
        feats["txt_bm25_title"] = ctx + rng.normal(0, 0.3, size) if lt == "query" else nan
        feats["ui_clicks"] = ctx + rng.normal(0, 0.3, size) if lt == "user" else nan
        feats["ii_same_category"] = (ctx + rng.normal(0, 0.3, size)) if lt == "item" else nan
        for q in C.QUERY_FEATURES:
            if lt != "query":
                feats[q] = nan
        for j, it in enumerate(its):
            item_id = f"i{it:03d}"
            rows.append({C.LIST_TYPE: lt, C.GROUP_ID: f"g{g:05d}", C.ENTITY_ID: ent, C.ITEM_ID: item_id,
                         C.LABEL: int(grade[j]), C.SPLIT: split, C.EVENT_DATE: day,
                         **{f: float(feats[f][j]) for f in FEATURES}})
            if lt in ("query", "user"):
                truth.setdefault((lt, ent, item_id), float(util[j]))
    df = pd.DataFrame(rows)
    df[C.RUN_DATE] = run_date
    tu = pd.DataFrame([{C.ENTITY_TYPE: k[0], C.ENTITY_ID: k[1], C.ITEM_ID: k[2], C.UTILITY: v}
                       for k, v in truth.items()])
    return df, tu


def write_training_set(spark, cfg, pdf: pd.DataFrame, truth: pd.DataFrame | None = None) -> int:
    from jobs.common.delta import write_table

    run_date = pdf[C.RUN_DATE].iloc[0]
    version = write_table(spark.createDataFrame(pdf), cfg, "training_set", mode="replace",
                          partitions={C.RUN_DATE: [run_date]})
    if truth is not None:
        write_table(spark.createDataFrame(truth), cfg, "truth_utility", mode="overwrite")
    return version
