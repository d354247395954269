"""Offline evaluation of a ranking model on the test split, against baselines and an oracle, and
the promotion gate. Pure pandas/numpy on the driver: the test split is bounded (the train stage
collects at most ``train.max_local_rows`` test rows, sampling whole groups beyond that).

Input: the test rows of ``training_set`` sorted by (group id, item id) with, per row, the columns
added by ``jobs.train.with_eval_columns`` (train-split popularity, volumes, cold flags, truth).

Scorers: ``model``; baselines on the same rows — ``popularity`` (global, train-split label sum),
``popularity_context`` (within the query for query lists; within the item's category for user
and item lists), ``text_match`` (the BM25 title feature only), ``random`` (seeded); ``oracle``
(true utility from the generator's ``truth_utility``; synthetic data only, and only for query and
user lists, which are the entity types the generator knows).

Model vs each other scorer: the mean per-group NDCG@10 difference on the same groups with a
paired bootstrap 95% interval (``model_vs``); "clearly better" = the interval excludes 0.

Segments (groups): query volume ``head`` / ``torso`` / ``tail`` (queries covering the first 50% /
next 30% / last 20% of train-split query groups; unseen queries are tail), users ``returning``
(had a train-split group) vs ``new``, and ``cold_item`` groups (a relevant item never seen in the
train split) vs ``warm``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from jobs import metrics
from jobs.common import columns as C

POP, POP_QUERY, POP_CATEGORY = "pop_global", "pop_query_item", "pop_category"
ITEM_SEEN, ENTITY_VOLUME, ENTITY_SEEN, TRUTH = "item_seen", "entity_volume", "entity_seen", "truth"
TEXT_FEATURE = "txt_bm25_title"
CURVE_KS = (1, 2, 3, 5, 10, 15, 20)
BASELINES = ("popularity", "popularity_context", "text_match", "random")


def baseline_scores(test: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    pop = test[POP].fillna(0.0).to_numpy(np.float64)
    tiebreak = pop / (pop.max() + 1.0) if len(pop) else pop  # < 1: only orders within a tie
    is_query = (test[C.LIST_TYPE] == "query").to_numpy()
    ctx = np.where(is_query, test[POP_QUERY].fillna(0.0), test[POP_CATEGORY].fillna(0.0))
    text = (test[TEXT_FEATURE] if TEXT_FEATURE in test else pd.Series(0.0, index=test.index))
    return {"popularity": pop, "popularity_context": ctx + tiebreak,
            "text_match": text.fillna(0.0).to_numpy(np.float64),
            "random": np.random.default_rng(seed).random(len(test))}


def group_segments(test: pd.DataFrame) -> pd.DataFrame:
    """One row per group (in group order): list_type and its segment labels."""
    rel_cold = (test[C.LABEL] > 0) & ~test[ITEM_SEEN].fillna(False).astype(bool)
    g = (test.assign(_cold=rel_cold).groupby(C.GROUP_ID, sort=False)
         .agg(list_type=(C.LIST_TYPE, "first"), entity=(C.ENTITY_ID, "first"),
              volume=(ENTITY_VOLUME, "first"), seen=(ENTITY_SEEN, "first"), cold=("_cold", "any"))
         .reset_index())
    q = g[g["list_type"] == "query"].drop_duplicates("entity")[["entity", "volume"]]
    q = q.assign(volume=q["volume"].fillna(0)).sort_values(["volume", "entity"],
                                                           ascending=[False, True])
    total = q["volume"].sum()
    share = (q["volume"].cumsum() - q["volume"]) / total if total > 0 else q["volume"] * 0 + 1
    band = np.where(q["volume"] <= 0, "tail", np.where(share < 0.5, "head",
                                                        np.where(share < 0.8, "torso", "tail")))
    qband = dict(zip(q["entity"], band))
    seg = pd.DataFrame({C.GROUP_ID: g[C.GROUP_ID], C.LIST_TYPE: g["list_type"]})
    seg["query_volume"] = [qband.get(e) if lt == "query" else None
                           for e, lt in zip(g["entity"], g["list_type"])]
    seg["user_history"] = np.where(g["list_type"] != "user", None,
                                   np.where(g["seen"].fillna(False).astype(bool), "returning", "new"))
    seg["cold_item"] = np.where(g["cold"], "cold_item", "warm")
    return seg


@dataclass
class ScorerResult:
    overall: dict[str, float]
    coverage: float
    by_list_type: dict[str, dict[str, float]]
    by_segment: dict[str, dict[str, float]]
    ndcg_by_k: dict[int, float]
    per_group_ndcg10: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "coverage@10": self.coverage,
                "by_list_type": self.by_list_type, "by_segment": self.by_segment,
                "ndcg_by_k": {str(k): v for k, v in self.ndcg_by_k.items()}}


def score_result(test: pd.DataFrame, scores: np.ndarray, seg: pd.DataFrame, *,
                 ks: Sequence[int], catalogue_size: int) -> ScorerResult:
    frame = test[[C.GROUP_ID, C.ITEM_ID, C.LABEL]].assign(score=scores)
    pg = metrics.group_metrics(frame, "score", ks=sorted(set(ks) | set(CURVE_KS)), recall_k=(10, 20))
    per = pg.merge(seg, on=C.GROUP_ID, how="left", validate="one_to_one")
    keep = [c for c in pg.columns if c in ("n_relevant",) or "@" in c or c == "mrr"]
    main = [c for c in keep if c in ("n_relevant", "mrr", "map@10", "recall@10", "recall@20")
            or c in {f"ndcg@{k}" for k in ks}]
    by_lt = {lt: metrics.summarize(d[main]) for lt, d in per.groupby(C.LIST_TYPE, sort=True)}
    by_seg: dict[str, dict[str, float]] = {}
    for dim in ("query_volume", "user_history", "cold_item"):
        for val, d in per.dropna(subset=[dim]).groupby(dim, sort=True):
            by_seg[f"{dim}={val}"] = metrics.summarize(d[main])
    curve_pg = pg[pg["n_relevant"] > 0]
    curve = {k: float(curve_pg[f"ndcg@{k}"].mean()) if len(curve_pg) else float("nan")
             for k in CURVE_KS}
    rel = pg[pg["n_relevant"] > 0]
    return ScorerResult(metrics.summarize(pg[main]), metrics.coverage(frame, "score", 10,
                                                                      catalogue_size),
                        by_lt, by_seg, curve,
                        pd.Series(rel["ndcg@10"].to_numpy(), index=rel[C.GROUP_ID].to_numpy()))


def paired_comparison(a: pd.Series, b: pd.Series, *, seed: int, resamples: int = 2000,
                      level: float = 0.95) -> dict[str, Any]:
    """Mean per-group difference a - b (NDCG@10 on the same groups) with a paired bootstrap
    confidence interval: groups are resampled with replacement, both scorers keep their own
    score for each drawn group. ``clearly_better`` = the interval's lower end is above 0."""
    d = (a - b.reindex(a.index)).dropna().to_numpy(np.float64)
    n = len(d)
    if n == 0:
        return {"n_groups": 0, "diff": float("nan"), "ci": [float("nan")] * 2,
                "clearly_better": False}
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 4_000_000 // n)  # bounded memory: step x n indices at a time
    for lo in range(0, resamples, step):
        hi = min(resamples, lo + step)
        means[lo:hi] = d[rng.integers(0, n, (hi - lo, n))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    ci = [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]
    return {"n_groups": n, "diff": float(d.mean()), "ci": ci, "level": level,
            "resamples": resamples, "clearly_better": bool(ci[0] > 0)}


@dataclass
class Evaluation:
    scorers: dict[str, ScorerResult]
    oracle: dict[str, Any] | None
    n_rows: int
    n_groups: int
    score_hist: dict[str, Any] = field(default_factory=dict)
    comparisons: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ndcg10(self, name: str = "model") -> float:
        return self.scorers[name].overall["ndcg@10"]

    def to_dict(self) -> dict[str, Any]:
        return {"scorers": {k: v.to_dict() for k, v in self.scorers.items()}, "oracle": self.oracle,
                "n_rows": self.n_rows, "n_groups": self.n_groups, "score_hist": self.score_hist,
                "model_vs": self.comparisons}


def oracle_result(test: pd.DataFrame, model_scores: np.ndarray, ks: Sequence[int]) -> dict | None:
    """Oracle vs model on the groups the truth covers (query and user lists)."""
    if TRUTH not in test or test[TRUTH].notna().sum() == 0:
        return None
    covered = test.groupby(C.GROUP_ID, sort=False)[TRUTH].transform(lambda s: s.notna().any())
    sub = test[covered.to_numpy()]
    truth = sub[TRUTH].fillna(sub[TRUTH].min() - 1.0).to_numpy(np.float64)
    frame = sub[[C.GROUP_ID, C.LABEL]].assign(oracle=truth, model=model_scores[covered.to_numpy()])
    out: dict[str, Any] = {"n_groups": int(sub[C.GROUP_ID].nunique()),
                           "list_types": sorted(sub[C.LIST_TYPE].unique().tolist())}
    for name in ("oracle", "model"):
        out[name] = metrics.summarize(metrics.group_metrics(frame, name, ks=ks, recall_k=(10,)))
    o, m = out["oracle"]["ndcg@10"], out["model"]["ndcg@10"]
    out["model_over_oracle_ndcg10"] = m / o if o else float("nan")
    return out


def _hist(test: pd.DataFrame, scores: np.ndarray, bins: int = 30) -> dict[str, Any]:
    edges = np.histogram_bin_edges(scores, bins=bins) if len(scores) else np.linspace(0, 1, bins + 1)
    rel = test[C.LABEL].to_numpy() > 0
    return {"edges": edges.tolist(), "relevant": np.histogram(scores[rel], edges)[0].tolist(),
            "irrelevant": np.histogram(scores[~rel], edges)[0].tolist()}


def evaluate(test: pd.DataFrame, model_scores: np.ndarray, *, ks: Sequence[int], seed: int,
             catalogue_size: int, extra: dict[str, np.ndarray] | None = None) -> Evaluation:
    """Model + baselines (+ ``extra`` scorers, e.g. the champion) + oracle on the same rows."""
    seg = group_segments(test)
    scorers = {"model": model_scores, **(extra or {}), **baseline_scores(test, seed)}
    results = {name: score_result(test, s, seg, ks=ks, catalogue_size=catalogue_size)
               for name, s in scorers.items()}
    model = results["model"].per_group_ndcg10
    comparisons = {name: paired_comparison(model, r.per_group_ndcg10, seed=seed)
                   for name, r in results.items() if name != "model"}
    return Evaluation(results, oracle_result(test, model_scores, ks), len(test),
                      int(test[C.GROUP_ID].nunique()), _hist(test, model_scores), comparisons)


@dataclass
class GateResult:
    passed: bool
    checks: list[dict[str, Any]]

    @property
    def message(self) -> str:
        failed = [c["check"] + ": " + c["detail"] for c in self.checks if not c["ok"]]
        return "; ".join(failed) if failed else "all gate checks passed"


def gate(new_ndcg10: float, champion_ndcg10: float | None, *, min_ndcg10: float,
         max_regression: float) -> GateResult:
    """Floors always; no relative regression > max_regression vs the champion when there is one."""
    checks = [{"check": "floor ndcg@10", "ok": bool(new_ndcg10 >= min_ndcg10),
               "detail": f"ndcg@10 {new_ndcg10:.4f} vs floor {min_ndcg10:.4f}"}]
    if champion_ndcg10 is not None:
        limit = champion_ndcg10 * (1.0 - max_regression)
        checks.append({"check": "no regression vs champion", "ok": bool(new_ndcg10 >= limit),
                       "detail": f"ndcg@10 {new_ndcg10:.4f} vs champion {champion_ndcg10:.4f} "
                                 f"(allowed down to {limit:.4f}, -{max_regression:.1%})"})
    return GateResult(all(c["ok"] for c in checks), checks)
