"""Context features: hour of day and day of week of the time the list is shown, as cyclical
(sin, cos) pairs. Training rows use the group start; serving lists are built for the day after
the run date, so they use its start (00:00 UTC) unless the caller passes a ``ctx_ts``."""
from __future__ import annotations

import math
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def with_context(ts: Column) -> Callable[[DataFrame], DataFrame]:
    def step(df: DataFrame) -> DataFrame:
        hour = F.hour(ts) + F.minute(ts) / 60.0
        dow = (F.dayofweek(ts) - 1).cast("double")  # 0 = Sunday
        two_pi = 2.0 * math.pi
        return (df.withColumn("ctx_hour_sin", F.sin(hour * (two_pi / 24.0)))
                .withColumn("ctx_hour_cos", F.cos(hour * (two_pi / 24.0)))
                .withColumn("ctx_dow_sin", F.sin(dow * (two_pi / 7.0)))
                .withColumn("ctx_dow_cos", F.cos(dow * (two_pi / 7.0))))
    return step
