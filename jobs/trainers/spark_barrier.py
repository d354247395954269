"""``spark`` backend: data-parallel LightGBM inside a Spark barrier stage.

How it works (all in ``rdd.barrier().mapPartitions``):

1. The train split is repartitioned by group id into ``train.spark_workers`` partitions and
   sorted within each partition, so every group is whole and contiguous on exactly one worker
   (lambdarank needs whole lists).
2. Each barrier task binds a free port, and the tasks exchange ``port,rows`` with
   ``BarrierTaskContext.allGather``; hosts come from ``getTaskInfos()`` (ordered by partition id),
   so every worker builds the same ``machines`` list.
3. Each worker calls the same ``train_lgb`` as the local backend with ``tree_learner=data``,
   ``pre_partition=true``, ``machines``, ``local_listen_port``, ``num_machines`` and ``time_out``;
   LightGBM's own socket network all-reduces histograms, so all workers grow identical trees.
4. Feature bins: LightGBM's distributed binning finds each feature's bins from one worker's
   local rows, so models would drift from the local backend's. Every worker instead gets the
   same bin sample (the train split up to ``bin_construct_sample_cnt`` rows, as LightGBM samples
   locally) as a reference Dataset, so bins are those the local backend would find.
5. Early stopping: LightGBM's NDCG metric is computed on each worker's local validation data and
   is not synchronised, so workers with different validation rows could stop at different
   iterations and deadlock the all-reduce. Every worker therefore gets the *whole* validation
   split (a broadcast; bounded by ``train.max_local_rows``) and takes identical decisions.
6. Rank 0 returns ``model_to_string()`` — the same native text model the local backend makes.

Needs at least ``spark_workers`` task slots (barrier stages start all tasks at once or fail).
Histograms are summed in a different order than on one machine, so the model is not always
bit-identical to the local one; the parity test holds test NDCG within 0.005.
"""
from __future__ import annotations

import json
import socket
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from jobs.trainers.base import Timer, Trainer, TrainerError, TrainResult, TrainSpec, sort_rows, to_arrays
from jobs.trainers.local import bounded_collect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DEFAULT_TIMEOUT_MIN = 10  # LightGBM `time_out` (minutes) for workers to connect to each other


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _host_ip(address: str) -> str:
    host = address.rsplit(":", 1)[0]
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


ROW_CHUNK = 65_536  # rows turned into numpy at a time inside a barrier task


def _partition_frame(rows: Iterator[Any], cols: list[str], spec: TrainSpec) -> Any:
    """A barrier task's rows -> pandas frame (ids as objects, features as one float64 block),
    built ``ROW_CHUNK`` rows at a time. Holding the whole partition as Python row tuples first
    (one object per value) took 8.6 GB per worker at 10M events and the kernel's OOM killer
    ended the job; chunked, the peak is the float64 block plus one chunk of tuples."""
    import pandas as pd

    feats = list(spec.feature_columns)
    idx = {c: i for i, c in enumerate(cols)}
    key_cols = [c for c in cols if c not in set(feats)]
    blocks: list[np.ndarray] = []
    keys: dict[str, list[Any]] = {c: [] for c in key_cols}
    chunk: list[tuple] = []

    def flush() -> None:
        if chunk:
            # None -> NaN (LightGBM's missing), as to_arrays does with pandas' na_value
            blocks.append(np.array([[t[idx[c]] for c in feats] for t in chunk], dtype=np.float64))
            for c in key_cols:
                keys[c].extend(t[idx[c]] for t in chunk)
            chunk.clear()

    for r in rows:
        chunk.append(tuple(r))
        if len(chunk) >= ROW_CHUNK:
            flush()
    flush()
    X = np.concatenate(blocks) if blocks else np.empty((0, len(feats)), np.float64)
    blocks.clear()
    pdf = pd.DataFrame(X, columns=feats, copy=False)
    for c in key_cols:
        pdf[c] = keys[c]
    return pdf


def _worker(spec: TrainSpec, cols: list[str], valid_bc: Any, bins_bc: Any, n_workers: int,
            threads: int, timeout_min: int):
    """The function each barrier task runs over its partition of the train split."""

    def run(rows: Iterator[Any]) -> Iterator[tuple[str, str, int, int]]:
        from pyspark import BarrierTaskContext

        from jobs.trainers.local import iterations_run, train_lgb

        ctx = BarrierTaskContext.get()
        rank = ctx.partitionId()
        pdf = _partition_frame(rows, cols, spec)
        port = _free_port()
        hosts = [_host_ip(t.address) for t in ctx.getTaskInfos()]
        peers = [json.loads(m) for m in ctx.allGather(json.dumps({"port": port, "rows": len(pdf)}))]
        empty = [i for i, p in enumerate(peers) if p["rows"] == 0]
        if empty:  # every task sees the same list and fails the same way: no one waits forever
            raise RuntimeError(f"spark trainer: worker partition(s) {empty} got no training rows; "
                               f"use fewer train.spark_workers than groups")
        machines = ",".join(f"{h}:{p['port']}" for h, p in zip(hosts, peers))
        pdf = sort_rows(pdf, spec)
        X, y, g = to_arrays(pdf, spec)
        del pdf  # the arrays are what LightGBM needs; the frame's float block goes now
        valid = valid_bc.value
        Xv = yv = gv = None
        if valid is not None and len(valid):
            Xv, yv, gv = to_arrays(valid, spec)
        extra = {"tree_learner": "data", "pre_partition": True, "machines": machines,
                 "local_listen_port": port, "num_machines": n_workers, "time_out": timeout_min,
                 "num_threads": threads}
        booster, history = train_lgb(X, y, g, Xv, yv, gv, spec, extra, bin_sample=bins_bc.value)
        best = booster.best_iteration or booster.current_iteration()
        text = booster.model_to_string(num_iteration=best) if rank == 0 else ""
        run_iters = iterations_run(history, spec)
        booster.free_network()
        ctx.barrier()
        if rank == 0:
            yield text, json.dumps(history), best, run_iters

    return run


class SparkBarrierTrainer(Trainer):
    name = "spark"

    @staticmethod
    def _bin_sample(train: DataFrame, spec: TrainSpec) -> np.ndarray:
        """The rows feature bins are found from, the same for every worker: the whole train split
        up to LightGBM's ``bin_construct_sample_cnt`` (what the local backend bins from too),
        else whole groups sampled by hash down to that size."""
        cap = int(spec.params.get("bin_construct_sample_cnt", 200_000))
        bounded = replace(spec, max_local_rows=min(cap, spec.max_local_rows))
        pdf, _ = bounded_collect(train, bounded, "bin sample")
        return sort_rows(pdf, spec)[list(spec.feature_columns)].to_numpy(np.float64, na_value=np.nan)

    def fit(self, train: DataFrame, valid: DataFrame, spec: TrainSpec) -> TrainResult:
        sc = train.sparkSession.sparkContext
        n = spec.workers
        slots = sc.defaultParallelism
        if n < 1 or n > slots:
            raise TrainerError(f"spark trainer: train.spark_workers={n} but the cluster has {slots} "
                               "task slots; a barrier stage needs one slot per worker")
        cols = [spec.group_col, spec.item_col, spec.label_col, *spec.feature_columns]
        va, _ = bounded_collect(valid.select(*cols), spec, "validation split (broadcast)")
        va = sort_rows(va, spec) if len(va) else va
        valid_bc = sc.broadcast(va)
        bins_bc = sc.broadcast(self._bin_sample(train.select(*cols), spec))
        threads = int(sc.getConf().get("spark.task.cpus", "1"))
        timeout = int(spec.params.get("time_out", DEFAULT_TIMEOUT_MIN))
        parts = (train.select(*cols).repartition(n, spec.group_col)
                 .sortWithinPartitions(spec.group_col, spec.item_col))
        n_rows = parts.count()
        n_groups = parts.select(spec.group_col).distinct().count()
        if n_groups < n:
            raise TrainerError(f"spark trainer: {n_groups} training group(s) for {n} workers")
        with Timer() as t:
            try:
                out = (parts.rdd.barrier()
                       .mapPartitions(_worker(spec, cols, valid_bc, bins_bc, n, threads, timeout))
                       .collect())
            finally:
                valid_bc.unpersist()
                bins_bc.unpersist()
        if len(out) != 1 or not out[0][0]:
            raise TrainerError(f"spark trainer: expected one model from rank 0, got {len(out)}")
        text, hist, best, run_iters = out[0]
        return TrainResult(model_text=text, backend=self.name, best_iteration=int(best),
                           num_iterations_run=int(run_iters), history=json.loads(hist),
                           wall_s=t.s, rows_train=n_rows, rows_valid=len(va), groups_train=n_groups,
                           params={**spec.params, "tree_learner": "data", "num_machines": n})
