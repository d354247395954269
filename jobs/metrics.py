"""Ranking metrics over grouped rows: NDCG@k, MRR, MAP@k, recall@k, catalogue coverage.

Pure numpy/pandas, no Spark. Inputs are one row per (group, item) with a graded ``label`` and a
``score``; a group is one ranked list (a search session, a browse session, an anchor item).

Conventions (each one tested in tests/train/test_metrics.py):

* Gain is exponential, ``2**label - 1``, the same as LightGBM's lambdarank/NDCG default, so the
  validation metric that drives early stopping and our evaluation agree. ``gain="linear"`` uses
  the label itself (what ``sklearn.metrics.ndcg_score`` does).
* NDCG treats tied scores as unordered: a tie block gets the average gain of its members times
  the sum of its discounts (``sklearn.metrics.ndcg_score(ignore_ties=False)``), so a constant
  baseline is not flattered by the order rows happened to arrive in.
* MRR, MAP@k, recall@k and coverage describe the list we would publish, so they use the
  deterministic order of the top-K job: score descending, ties by item id (rows arrive sorted by
  item id within a group; the sort is stable).
* A group without any relevant item (all labels 0) has no defined NDCG/MRR/MAP/recall: it is
  skipped by default (``empty="skip"``); ``empty="one"`` counts it as 1.0 like LightGBM's NDCG.
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pandas as pd

Empty = Literal["skip", "one", "zero"]


def _gains(labels: np.ndarray, gain: str) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.float64)
    return np.power(2.0, labels) - 1.0 if gain == "exp" else labels


def _discounts(n: int, k: int) -> np.ndarray:
    d = 1.0 / np.log2(np.arange(n, dtype=np.float64) + 2.0)
    d[k:] = 0.0
    return d


def dcg_at_k(labels: Sequence[float], scores: Sequence[float], k: int, gain: str = "exp") -> float:
    """Tie-averaged DCG@k of one group."""
    g = _gains(np.asarray(labels), gain)
    s = np.asarray(scores, dtype=np.float64)
    if len(g) == 0:
        return 0.0
    disc_cum = np.cumsum(_discounts(len(g), k))
    _, inv, counts = np.unique(-s, return_inverse=True, return_counts=True)
    block_gain = np.zeros(len(counts))
    np.add.at(block_gain, inv, g)
    block_gain /= counts
    ends = np.cumsum(counts) - 1
    block_disc = np.diff(np.concatenate([[0.0], disc_cum[ends]]))
    return float((block_gain * block_disc).sum())


def ndcg_at_k(labels: Sequence[float], scores: Sequence[float], k: int,
              gain: str = "exp") -> float:
    """NDCG@k of one group; NaN when the group has no relevant item."""
    g = np.sort(_gains(np.asarray(labels), gain))[::-1]
    ideal = float((g * _discounts(len(g), k)).sum())
    if ideal <= 0.0:
        return float("nan")
    return dcg_at_k(labels, scores, k, gain) / ideal


def _order(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def reciprocal_rank(labels: Sequence[float], scores: Sequence[float]) -> float:
    rel = np.asarray(labels)[_order(np.asarray(scores))] > 0
    if not rel.any():
        return float("nan")
    return 1.0 / (int(np.argmax(rel)) + 1)


def average_precision_at_k(labels: Sequence[float], scores: Sequence[float], k: int) -> float:
    """AP@k with binary relevance (label > 0), normalised by min(k, #relevant)."""
    rel_all = np.asarray(labels) > 0
    n_rel = int(rel_all.sum())
    if n_rel == 0:
        return float("nan")
    rel = rel_all[_order(np.asarray(scores))][:k]
    hits = np.cumsum(rel)
    prec = hits / np.arange(1, len(rel) + 1)
    return float((prec * rel).sum() / min(k, n_rel))


def recall_at_k(labels: Sequence[float], scores: Sequence[float], k: int) -> float:
    rel_all = np.asarray(labels) > 0
    n_rel = int(rel_all.sum())
    if n_rel == 0:
        return float("nan")
    return float(rel_all[_order(np.asarray(scores))][:k].sum() / n_rel)


def _group_bounds(group_ids: np.ndarray) -> np.ndarray:
    """Start offsets of each run of equal group ids (rows of one group must be contiguous)."""
    if len(group_ids) == 0:
        return np.array([0])
    change = np.flatnonzero(group_ids[1:] != group_ids[:-1]) + 1
    return np.concatenate([[0], change, [len(group_ids)]])


def group_metrics(frame: pd.DataFrame, score: str, *, group: str = "group_id", label: str = "label",
                  ks: Sequence[int] = (5, 10, 20), map_k: int = 10, recall_k: Sequence[int] = (10,),
                  gain: str = "exp") -> pd.DataFrame:
    """One row per group: ndcg@k for each k, mrr, map@map_k, recall@k, n_items, n_relevant.

    ``frame`` must have each group's rows contiguous (e.g. sorted by group id, item id)."""
    gids = frame[group].to_numpy()
    labels = frame[label].to_numpy(dtype=np.float64)
    scores = frame[score].to_numpy(dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"score column '{score}' has NaN values")
    bounds = _group_bounds(gids)
    rows = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        y, s = labels[a:b], scores[a:b]
        row: dict[str, object] = {group: gids[a], "n_items": b - a, "n_relevant": int((y > 0).sum())}
        for k in ks:
            row[f"ndcg@{k}"] = ndcg_at_k(y, s, k, gain)
        row["mrr"] = reciprocal_rank(y, s)
        row[f"map@{map_k}"] = average_precision_at_k(y, s, map_k)
        for k in recall_k:
            row[f"recall@{k}"] = recall_at_k(y, s, k)
        rows.append(row)
    cols = [group, "n_items", "n_relevant", *[f"ndcg@{k}" for k in ks], "mrr", f"map@{map_k}",
            *[f"recall@{k}" for k in recall_k]]
    return pd.DataFrame(rows, columns=cols)


def summarize(per_group: pd.DataFrame, empty: Empty = "skip") -> dict[str, float]:
    """Mean of every metric column over groups; ``n_groups`` counts the groups averaged."""
    metric_cols = [c for c in per_group.columns if "@" in c or c == "mrr"]
    df = per_group[metric_cols]
    if empty == "skip":
        df = df[per_group["n_relevant"] > 0]
    else:
        df = df.fillna(1.0 if empty == "one" else 0.0)
    out = {c: float(df[c].mean()) if len(df) else float("nan") for c in metric_cols}
    out["n_groups"] = int(len(df))
    return out


def coverage(frame: pd.DataFrame, score: str, k: int, catalogue_size: int, *,
             group: str = "group_id", item: str = "item_id") -> float:
    """Share of the catalogue that appears in at least one group's top-k."""
    if catalogue_size <= 0:
        return float("nan")
    ranked = frame.assign(_neg=-frame[score]).sort_values([group, "_neg", item], kind="stable")
    top = ranked.groupby(group, sort=False).head(k)
    return float(top[item].nunique() / catalogue_size)


def ndcg_curve(frame: pd.DataFrame, score: str, ks: Sequence[int], *, group: str = "group_id",
               label: str = "label") -> dict[int, float]:
    """Mean NDCG@k (groups with a relevant item) for each k: the 'NDCG by k' plot."""
    pg = group_metrics(frame, score, group=group, label=label, ks=ks, recall_k=())
    pg = pg[pg["n_relevant"] > 0]
    return {k: float(pg[f"ndcg@{k}"].mean()) if len(pg) else float("nan") for k in ks}
