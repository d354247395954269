"""Time-based train / validation / test split of training rows, relative to the run date D.

    train      [D - train_days - validation_days - test_days, D - validation_days - test_days)
    validation [D - validation_days - test_days, D - test_days)
    test       [D - test_days, D)

A row (and with it its whole group: every row of a group has the group's start date) goes to the
split whose range holds its ``event_date``; the ranges are disjoint, so no row is in two splits.
Used by ``ranklake features`` (jobs/features.py); not a command of its own.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.errors import DataError

Ranges = dict[str, tuple[date, date]]


def split_ranges(run_date: date, *, train_days: int, validation_days: int, test_days: int) -> Ranges:
    if min(train_days, validation_days, test_days) < 1:
        raise DataError("features.train_days/validation_days/test_days must all be >= 1, got "
                        f"{train_days}/{validation_days}/{test_days}")
    test_start = run_date - timedelta(days=test_days)
    val_start = test_start - timedelta(days=validation_days)
    train_start = val_start - timedelta(days=train_days)
    return {"train": (train_start, val_start), "validation": (val_start, test_start),
            "test": (test_start, run_date)}


def with_split(rows: DataFrame, ranges: Ranges) -> DataFrame:
    """Adds ``split``; rows outside every range are dropped (the caller counts rows in/out)."""
    d = F.col(C.EVENT_DATE)
    expr = F.lit(None).cast("string")
    for name, (start, end) in ranges.items():
        expr = F.when((d >= F.lit(start)) & (d < F.lit(end)), F.lit(name)).otherwise(expr)
    return rows.withColumn(C.SPLIT, expr).filter(F.col(C.SPLIT).isNotNull()).select(
        *rows.columns, C.SPLIT)


def check_splits(counts: Mapping[str, int], ranges: Ranges) -> None:
    """Every split must have rows; the error names the split and its date range."""
    for name in C.SPLITS:
        if counts.get(name, 0) == 0:
            start, end = ranges[name]
            raise DataError(f"split '{name}' is empty: no training rows with event_date in "
                            f"[{start}, {end}); check that interactions_clean covers those dates "
                            "or change features.train_days/validation_days/test_days")
