"""Single signals on the MovieLens test groups of ``benchmarks.movielens`` (numpy, no Spark).

    python -m benchmarks.movielens_signals [--dataset ../shared/datasets/movielens_small]

Why the model there stays near popularity: this rebuilds the same test groups (user, day with a
rating in the last ``test_days``; candidates = the ``candidates`` most-rated films before the
test split, minus the films the user rated before that day; label = purchase 3 / click 1 grade
of the rating, 0 if not rated that day; groups without a rated candidate dropped) and scores
each candidate by one signal at a time, everything as of the day before the group:

  popularity        sum of train-split labels per film (the pipeline's baseline)
  popularity_<w>d   ratings in the last w days; popularity_all: all earlier ratings
  itemknn / _last<L> item-item cosine (binary ratings before the test split) summed over the
                    user's whole history / last L rated films
  userknn<N>        user-user cosine (the user's history vs every user's ratings before the test
                    split): the films of the N nearest users, weighted by similarity
  pop+userknn50     popularity and userknn50, each scaled to its group maximum, summed
  genre_x_pop       popularity times (0.1 + the share of the user's history in the film's genres)
  release_year      newer films first (the year in movies.csv titles)
  mean_rating       the film's mean rating so far
  random

Signals that need a history fall back to popularity on a user's first day. Prints mean NDCG@10
per signal (jobs.metrics, ties averaged) over all groups and over the returning users' groups
alone, plus who the groups are (returning vs first-day users).
Results in ``benchmarks/results/movielens_signals.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.movielens import MovieLensSettings, dataset_args
from jobs.metrics import ndcg_at_k


def signals(dataset: Path, s: MovieLensSettings, seed: int = 0) -> dict[str, Any]:
    import pandas as pd

    r = pd.read_csv(dataset / "ratings.csv")
    r["d"] = pd.to_datetime(r["timestamp"], unit="s").dt.normalize()
    end = r["d"].max() + pd.Timedelta(days=1)
    test_start = end - pd.Timedelta(days=s.test_days)
    valid_start = test_start - pd.Timedelta(days=s.validation_days)
    train_start = valid_start - pd.Timedelta(days=s.train_days)
    r["grade"] = np.where(r["rating"] >= 4, 3, 1)  # conf/import/movielens.yaml: >= 4 = purchase
    before = r[r["d"] < test_start]
    counts = before.groupby("movieId").size().rename("n").reset_index()
    cands = counts.sort_values(["n", "movieId"], ascending=[False, True])["movieId"].to_numpy()[:s.candidates]
    train = r[(r["d"] >= train_start) & (r["d"] < valid_start)]
    pop_train = train.groupby("movieId")["grade"].sum()

    items = np.sort(r["movieId"].unique())
    users = np.sort(r["userId"].unique())
    col = {m: i for i, m in enumerate(items)}
    row = {u: i for i, u in enumerate(users)}
    rated = np.zeros((len(users), len(items)), np.float32)
    rated[before["userId"].map(row).to_numpy(), before["movieId"].map(col).to_numpy()] = 1.0
    norms = np.sqrt(rated.sum(0)) + 1e-9
    cidx = np.array([col[m] for m in cands])
    sim = (rated.T @ rated[:, cidx]) / (norms[:, None] * norms[cidx][None, :])  # films x candidates
    pos_of = {m: j for j, m in enumerate(cands)}
    unorm = np.sqrt(rated.sum(1)) + 1e-9
    year, genre = _films(dataset, col)

    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {}
    returning: dict[str, list[float]] = {}
    who = {"groups": 0, "first_day": 0, "history": []}
    by_user = {u: g.sort_values("timestamp") for u, g in r.groupby("userId")}
    cache: dict[Any, dict[str, Any]] = {}

    def as_of(d: Any) -> dict[str, Any]:
        """Per-film counts and mean rating of the ratings before day d (groups share days)."""
        if d not in cache:
            prior = r[r["d"] < d]
            out_d = {f"popularity_{w}d": prior[prior["d"] >= d - pd.Timedelta(days=w)]
                     .groupby("movieId").size() for w in (30, 90, 365)}
            out_d["popularity_all"] = prior.groupby("movieId").size()
            out_d["mean_rating"] = prior.groupby("movieId")["rating"].mean()
            cache[d] = out_d
        return cache[d]

    for (u, d), day in r[r["d"] >= test_start].groupby(["userId", "d"]):
        hist = by_user[u][by_user[u]["d"] < d]
        seen = set(hist["movieId"])
        cm = np.array([m for m in cands if m not in seen])
        lab = dict(zip(day["movieId"], day["grade"]))
        y = np.array([lab.get(m, 0) for m in cm], float)
        if not y.any():
            continue
        who["groups"] += 1
        who["first_day"] += int(hist.empty)
        who["history"].append(len(hist))
        per_item = as_of(d)
        pop = np.array([pop_train.get(m, 0) for m in cm], float)
        tie = 1e-6 * pop  # other signals break their ties by popularity

        def add(name: str, score: np.ndarray, y: np.ndarray = y, first_day: bool = hist.empty) -> None:
            v = ndcg_at_k(y, score, 10)
            out.setdefault(name, []).append(v)
            if not first_day:
                returning.setdefault(name, []).append(v)

        add("popularity", pop)
        for name in ("popularity_30d", "popularity_90d", "popularity_365d", "popularity_all"):
            add(name, np.array([per_item[name].get(m, 0) for m in cm], float) + tie)
        cols = np.array([pos_of[m] for m in cm])
        hist_idx = hist["movieId"].map(col).to_numpy()
        for name, h in (("itemknn", hist_idx), ("itemknn_last50", hist_idx[-50:]),
                        ("itemknn_last10", hist_idx[-10:])):
            add(name, (sim[h][:, cols].sum(0) if len(h) else np.zeros(len(cm))) + tie)
        cand_cols = cidx[cols]
        if len(hist_idx):
            user = np.zeros(len(items), np.float32)
            user[hist_idx] = 1.0
            us = (rated @ user) / (unorm * np.sqrt(user.sum()))
            us[row[u]] = 0.0  # not the user's own pre-test ratings
            order = np.argsort(-us, kind="stable")
            for n in (20, 50, 200):
                knn = us[order[:n]] @ rated[order[:n]][:, cand_cols]
                add(f"userknn{n}", knn + tie)
                if n == 50:
                    add("pop+userknn50", pop / max(pop.max(), 1e-9) + knn / max(knn.max(), 1e-9))
            add("genre_x_pop", (0.1 + genre[cand_cols] @ (user @ genre / user.sum())) * pop)
        else:
            for name in ("userknn20", "userknn50", "userknn200", "pop+userknn50", "genre_x_pop"):
                add(name, pop)
        add("release_year", year[cand_cols] + tie)
        add("mean_rating", np.array([per_item["mean_rating"].get(m, 0.0) for m in cm]) + tie)
        add("random", rng.random(len(cm)))
    hist_n = np.array(who["history"])
    ndcg = {k: round(float(np.mean(v)), 4) for k, v in out.items()}
    ndcg_ret = {k: round(float(np.mean(v)), 4) for k, v in returning.items()}
    first = [v for v, n in zip(out["popularity"], who["history"]) if n == 0]
    return {"test_split": [str(test_start.date()), str(end.date())], "candidates": s.candidates,
            "test_groups": who["groups"], "first_day_groups": who["first_day"],
            "history_median": float(np.median(hist_n)) if len(hist_n) else 0.0,
            "ndcg@10": dict(sorted(ndcg.items(), key=lambda kv: -kv[1])),
            "ndcg@10_returning": dict(sorted(ndcg_ret.items(), key=lambda kv: -kv[1])),
            "popularity_first_day": round(float(np.mean(first)), 4) if first else None,
            "best_over_popularity": _best(ndcg), "best_over_popularity_returning": _best(ndcg_ret)}


def _best(ndcg: dict[str, float]) -> float:
    return round(max(v for k, v in ndcg.items() if k != "popularity") / ndcg["popularity"], 4)


def _films(dataset: Path, col: dict[Any, int]) -> tuple[np.ndarray, np.ndarray]:
    """Release year (0 when the title has none) and a films x genres 0/1 matrix, by film column."""
    import pandas as pd

    mv = pd.read_csv(dataset / "movies.csv")
    mv = mv[mv["movieId"].isin(col.keys())]
    idx = mv["movieId"].map(col).to_numpy()
    year = np.zeros(len(col))
    year[idx] = mv["title"].str.extract(r"\((\d{4})\)\s*$")[0].astype(float).fillna(0).to_numpy()
    names = mv["genres"].str.split("|")
    vocab = {g: j for j, g in enumerate(sorted({g for gs in names for g in gs}))}
    genre = np.zeros((len(col), len(vocab)), np.float32)
    for i, gs in zip(idx, names):
        genre[i, [vocab[g] for g in gs]] = 1.0
    return year, genre


def main(argv: list[str] | None = None) -> int:
    ns = dataset_args("movielens_signals", __doc__, argv)
    if ns is None:
        return 2
    res = signals(ns.dataset, MovieLensSettings())
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(res, indent=2))
    print(f"MovieLens test groups: {res['test_groups']} ({res['first_day_groups']} a user's first "
          f"day; median {res['history_median']:.0f} earlier ratings)")
    ret = res["ndcg@10_returning"]
    print(f"  {'signal':<18} NDCG@10 all groups / returning users' groups")
    for k, v in res["ndcg@10"].items():
        print(f"  {k:<18} {v:.4f} / {ret[k]:.4f}")
    if res["popularity_first_day"] is not None:
        print(f"  popularity on first-day groups: {res['popularity_first_day']:.4f}")
    print(f"  best signal / popularity: {res['best_over_popularity']:.3f} over all groups, "
          f"{res['best_over_popularity_returning']:.3f} over returning users' groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
