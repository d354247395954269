"""P2 training, P3 scoring and Q quality, on the training set and champion of the pipeline run.

P2: our ``local`` trainer (collect via Arrow + canonical sort + ``lightgbm.train`` with early
stopping) in rows x iterations / s vs a raw ``lightgbm.train`` on the same numpy arrays, same
parameters, same validation set evaluated every round, for the number of rounds ours ran;
the arrays are built before timing, so the ratio shows what our wrapper costs. Then the
``spark`` (barrier, data-parallel) backend's wall time vs ``local`` on the same splits.
P3: ``jobs.scoring.benchmark_scoring`` -- rows/s of the top-K job's scoring path (broadcast model,
``mapInArrow``, one ``Booster.predict`` per Arrow batch) vs a raw ``Booster.predict`` on a numpy
matrix of the same rows.
Q: NDCG@10 of the champion vs popularity and the oracle, from its registry metadata.
"""
from __future__ import annotations

from typing import Any

from benchmarks.common import BenchError, Target, paired, say, single, timed
from benchmarks.context import Bench


def _splits(b: Bench) -> tuple[Any, Any, Any, Any]:
    from jobs.common import columns as C
    from jobs.common.delta import read_table
    from jobs.train import select_split
    from jobs.trainers import spec_from_conf

    features = tuple(C.FEATURE_COLUMNS)
    data = read_table(b.spark, b.cfg, "training_set", filters=[(C.RUN_DATE, "=", b.run_date)]).cache()
    data.count()  # filled before any timing: every repeat (ours and raw) starts from data in memory
    spec = spec_from_conf(b.cfg.train, features)
    return data, spec, select_split(data, "train", features), select_split(data, "validation", features)


def training(b: Bench) -> None:
    import lightgbm as lgb

    from jobs.trainers import get_trainer
    from jobs.trainers.base import sort_rows, to_arrays
    from jobs.trainers.local import bounded_collect

    data, spec, train, valid = _splits(b)
    reps = b.profile.big_repeats
    results = []

    def ours() -> None:
        results.append(get_trainer("local").fit(train, valid, spec))

    ours_s = timed(ours, reps, "local trainer fit")
    res = results[-1]
    iters, rows = res.num_iterations_run, res.rows_train
    cols = [spec.group_col, spec.item_col, spec.label_col, *spec.feature_columns]
    tr, _ = bounded_collect(train.select(*cols), spec, "train split")
    va, _ = bounded_collect(valid.select(*cols), spec, "validation split")
    X, y, g = to_arrays(sort_rows(tr, spec), spec)
    Xv, yv, gv = to_arrays(sort_rows(va, spec), spec)
    del tr, va

    def raw() -> None:
        dtrain = lgb.Dataset(X, label=y, group=g, free_raw_data=False)
        dvalid = lgb.Dataset(Xv, label=yv, group=gv, reference=dtrain, free_raw_data=False)
        lgb.train(spec.params, dtrain, num_boost_round=iters, valid_sets=[dvalid],
                  valid_names=["valid"])

    raw_s = timed(raw, reps, f"raw lightgbm.train x{iters} rounds")
    work = rows * iters
    b.add(paired("P2.train_rows_iters_per_s", "P2",
                 f"local trainer: {rows:,} rows x {iters} iterations", "rows*iter/s",
                 [work / s for s in ours_s], "raw lightgbm.train, same arrays/params/valid set",
                 [work / s for s in raw_s], higher_is_better=True,
                 target=Target(">=", 0.9, "ratio", "ours >= 0.9 x raw"),
                 note="ours: from the cached training set (Spark) to the model: Arrow collect of "
                      "both splits, sort and float64 matrices in Arrow, lightgbm.train",
                 best_iteration=res.best_iteration, lgb_wall_s=[r.wall_s for r in results],
                 cause=_training_cause(ours_s, [r.wall_s for r in results], raw_s)))
    spark_s: list[float] = []
    try:
        spark_s = timed(lambda: get_trainer("spark").fit(train, valid, spec), reps,
                        "spark barrier trainer fit")
    except Exception as exc:  # noqa: BLE001 - reported as a figure, then the run fails loudly
        b.add(single("P2.spark_vs_local_s", "P2", "spark (barrier) backend wall time", "s", [],
                     note=f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"))
        raise BenchError(f"spark barrier trainer failed: {exc}") from exc
    b.add(paired("P2.spark_vs_local_s", "P2", f"spark barrier backend ({spec.workers} workers) "
                 "wall time", "s", spark_s, "local backend (same splits)", ours_s,
                 higher_is_better=False, target=None,
                 note="no target in the issue; ratio = spark / local wall time (local[2]: both "
                      "backends share the same 2 cores)"))
    data.unpersist()


def scoring(b: Bench) -> None:
    from jobs.registry import load_champion
    from jobs.scoring import benchmark_scoring

    model = load_champion(b.cfg)
    rows, ours, raw, transfer = b.profile.score_rows, [], [], []
    # warm-up (untimed): Python workers start and parse the Booster once (the top-K job's steady
    # state: workers are reused across tasks and list types)
    benchmark_scoring(b.spark, model, rows=min(rows, 10_000), seed=99, repeats=1)
    for i in range(b.profile.repeats):
        r = benchmark_scoring(b.spark, model, rows=rows, seed=i, repeats=1)
        ours.append(r["spark_rows_per_s"])
        raw.append(r["raw_rows_per_s"])
        transfer.append(r["transfer_rows_per_s"])
        say(f"  scoring [{i + 1}/{b.profile.repeats}] spark {r['spark_rows_per_s']:,.0f} rows/s, "
            f"raw {r['raw_rows_per_s']:,.0f} rows/s, Arrow transfer alone "
            f"{r['transfer_rows_per_s']:,.0f} rows/s")
    t_med, r_med = _med(transfer), _med(raw)
    b.add(paired("P3.scoring_rows_per_s", "P3", f"scoring {rows:,} rows in Spark (top-K path)",
                 "rows/s", ours, "raw Booster.predict on a numpy matrix of the same rows", raw,
                 higher_is_better=True, target=Target(">=", 0.5, "ratio", "ours >= 0.5 x raw"),
                 note=f"model {model.version}, {model.booster.num_trees()} trees, "
                      f"{len(model.feature_columns)} features; Spark side: broadcast + Arrow "
                      f"transfer + predict + sum; the same job without predict (JVM <-> Python "
                      f"Arrow transfer alone) {t_med:,.0f} rows/s = ceiling {t_med / r_med:.3f} x raw",
                 transfer_rows_per_s=transfer, ceiling_ratio=round(t_med / r_med, 4),
                 cause=_scoring_cause(_med(ours), t_med, r_med)))


def _med(xs: list[float]) -> float:
    from statistics import median

    return float(median(xs))  # the figures' own median (mean of the middle two)


def _training_cause(ours: list[float], lgb_in_ours: list[float], raw: list[float]) -> str:
    """Where the local trainer's time goes, from the same run's repeats (medians)."""
    o, t, r = _med(ours), _med(lgb_in_ours), _med(raw)
    return (f"of our {o:.2f} s, {o - t:.2f} s is moving the rows out of Spark (Arrow collect of "
            f"both splits, sort, float64 matrices) and {t:.2f} s is lightgbm.train itself (raw: "
            f"{r:.2f} s on prebuilt arrays); the collect alone exceeds the 0.11 x raw a 0.9 ratio "
            f"leaves" if o - t > 0.11 * r else
            f"ours {o:.2f} s, of which lightgbm.train {t:.2f} s; raw {r:.2f} s")


def _scoring_cause(ours: float, transfer: float, raw: float) -> str:
    """Where the scoring job's time per row goes, from the three rates measured in one run."""
    per_row = 1e6 / ours  # microseconds per row, whole job
    moved = 1e6 / transfer  # the same job with predict replaced by zeros
    return (f"the job spends {moved:.2f} of its {per_row:.2f} us/row moving rows JVM -> Arrow -> "
            f"Python and back (Spark's row-to-Arrow conversion, the same job with predict "
            f"replaced by zeros: {transfer / raw:.3f} x raw at best); feature matrix + predict "
            f"add {max(per_row - moved, 0):.2f} us/row against raw predict's {1e6 / raw:.2f} "
            f"us/row (one multithreaded call on a prebuilt matrix)")


def quality(b: Bench) -> None:
    from jobs.registry import load_champion

    meta = load_champion(b.cfg).metadata
    ndcg = (meta.get("metrics") or {}).get("ndcg@10")
    base = meta.get("baselines") or {}
    oracle = meta.get("oracle") or {}
    if ndcg is None:
        raise BenchError("champion metadata has no metrics.ndcg@10")
    o10 = (oracle.get("oracle") or {}).get("ndcg@10")
    pop = base.get("popularity")
    fig = single("Q.ndcg10_vs_popularity", "Q", "NDCG@10 of the model (test split)", "NDCG@10",
                 [ndcg], note="baselines: " + ", ".join(f"{k} {v:.3f}" for k, v in base.items()))
    if pop:
        fig.reference = {"name": "global popularity", "median": pop, "min": pop, "max": pop,
                         "repeats": 1}
        fig.ratio, fig.ratio_def = round(ndcg / pop, 4), "model / popularity"
        fig.target = Target(">", 1.0, "ratio", "clearly above every baseline")
        vs = meta.get("model_vs") or {}
        if vs:  # "clearly": the paired bootstrap interval of model - baseline excludes 0
            from jobs.evaluate import BASELINES

            clear = all(vs.get(k, {}).get("clearly_better") for k in BASELINES)
            fig.note += "; model - baseline (95% CI, paired bootstrap over groups): " + ", ".join(
                f"{k} {c['diff']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}]" for k, c in vs.items()
                if k in BASELINES)
        else:  # a champion registered before the comparison existed
            clear = ndcg > max(base.values())
        fig.status = "pass" if clear else "miss"
    b.add(fig)
    if o10:
        ratio = oracle.get("model_over_oracle_ndcg10")
        m_cov = (oracle.get("model") or {}).get("ndcg@10")
        f2 = single("Q.ndcg10_vs_oracle", "Q", "NDCG@10 of the model on truth-covered groups",
                    "NDCG@10", [m_cov if m_cov is not None else ndcg],
                    target=Target(">=", 0.9, "ratio", "model >= 0.9 x oracle"),
                    note="oracle = ranking by the generator's true utility, same groups")
        f2.reference = {"name": "oracle (true utility)", "median": o10, "min": o10, "max": o10,
                        "repeats": 1}
        f2.ratio, f2.ratio_def = (round(ratio, 4) if ratio is not None else None), "model / oracle"
        b.add(f2.finish())
