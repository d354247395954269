"""Trainer backends behind one interface (``jobs.trainers.base.Trainer``), chosen by
``train.backend``: ``local`` (driver, bounded), ``spark`` (barrier-mode data-parallel LightGBM),
``synapseml`` (LightGBMRanker; needs its jars, unverified here)."""
from __future__ import annotations

from jobs.trainers.base import Trainer, TrainerError, TrainResult, TrainSpec, lgb_params, spec_from_conf

BACKENDS = ("local", "spark", "synapseml")


def get_trainer(backend: str) -> Trainer:
    if backend == "local":
        from jobs.trainers.local import LocalTrainer

        return LocalTrainer()
    if backend == "spark":
        from jobs.trainers.spark_barrier import SparkBarrierTrainer

        return SparkBarrierTrainer()
    if backend == "synapseml":
        from jobs.trainers.synapseml import SynapseMLTrainer

        return SynapseMLTrainer()
    raise TrainerError(f"unknown train.backend '{backend}'; expected one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Trainer", "TrainerError", "TrainResult", "TrainSpec", "get_trainer",
           "lgb_params", "spec_from_conf"]
