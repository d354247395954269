"""Shared machinery of the feature families: the as-of window join and smoothing.

Semantics (binding, see docs/DEVELOPING.md + the features issue): a feature snapshot with
``as_of_date = X`` is computed from events with ``event_date <= X`` only, i.e. strictly before
X + 1 day 00:00 UTC (its ``feature_ts``). A training row shown on day d reads snapshot d - 1; the
serving snapshot of run date D is as_of_date = D.

How: events are aggregated once per (entity, day); "requests" (entity, as_of_date) rows are
unioned in and every windowed value is a Spark window sum over the entity's days with an explicit
``rangeBetween`` frame ending at the request's own day. A request never sees a day after its
as_of_date, whatever the data holds later -- that is the leakage guarantee, tested by mutating the
future. No loop over dates.

Fast path: the full snapshot at one date D (every key at D, no explicit requests) needs no window:
``snapshot_windows`` is one hash aggregate per entity over its days ``<= D``, each window a
``day > D - w`` condition inside the sum. The ``day <= D`` condition is the same leakage guarantee,
and the result (rows, columns, types, null/zero semantics) is the window path's for those requests
(tests/features/test_asof_single_date.py). ``windowed`` picks the path.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.common import columns as C

DAY = "_day"  # days since 1970-01-01 (int): the window order key
REQ = "_req"  # True on request rows, False on daily-aggregate rows
HIST = "_hist_days"  # number of days with events up to and including the request day


@dataclass(frozen=True)
class Windows:
    """Window lengths in days: short / mid / long (features.windows_days)."""

    short: int = 1
    mid: int = 7
    long: int = 30

    @classmethod
    def of(cls, days: Sequence[int]) -> Windows:
        if len(days) != 3 or list(days) != sorted(days) or min(days) < 1:
            raise ValueError(f"features.windows_days must be 3 ascending day counts, got {days}")
        return cls(*days)

    def items(self) -> list[tuple[str, int]]:
        return [("short", self.short), ("mid", self.mid), ("long", self.long)]


@dataclass(frozen=True)
class Priors:
    """Beta priors for smoothed rates: (successes + strength*mean) / (trials + strength)."""

    strength: float = 20.0
    ctr: float = 0.1
    atc: float = 0.03
    purchase: float = 0.01
    cvr: float = 0.1  # purchases per click


def day_num(col: Column) -> Column:
    return F.datediff(col, F.lit("1970-01-01").cast("date"))


def feature_ts(as_of: Column) -> Column:
    """Valid-from timestamp of a snapshot: as_of_date + 1 day, 00:00 UTC."""
    return F.date_add(as_of, 1).cast("timestamp")


def smoothed(successes: Column, trials: Column, mean: float, strength: float) -> Column:
    return ((F.coalesce(successes, F.lit(0.0)) + F.lit(strength * mean))
            / (F.coalesce(trials, F.lit(0.0)) + F.lit(strength)))


def with_grade_counts(events: DataFrame) -> DataFrame:
    """Adds 0/1 indicator columns n_impr, n_click, n_atc, n_purchase and the day number."""
    et = F.col(C.EVENT_TYPE)
    return (events
            .withColumn("n_impr", (et == C.IMPRESSION).cast("long"))
            .withColumn("n_click", (et == C.CLICK).cast("long"))
            .withColumn("n_atc", (et == C.ADD_TO_CART).cast("long"))
            .withColumn("n_purchase", (et == C.PURCHASE).cast("long"))
            .withColumn(DAY, day_num(F.col(C.EVENT_DATE))))


def requests_at(keys: DataFrame, as_of: date) -> DataFrame:
    """One request per distinct key row at a single as_of date (the serving snapshot)."""
    return keys.distinct().withColumn(C.AS_OF_DATE, F.lit(as_of).cast("date"))


def asof_windows(daily: DataFrame, requests: DataFrame, keys: Sequence[str],
                 sums: dict[str, tuple[str, int | None]],
                 maxes: dict[str, tuple[str, int | None]] | None = None,
                 keep_without_history: bool = False) -> DataFrame:
    """For every request (keys, as_of_date) compute windowed aggregates of ``daily``.

    daily: keys + ``_day`` + metric columns, one row per (keys, day).
    sums/maxes: output name -> (metric column, window days or None for all history up to as_of).
    Returns keys + as_of_date + outputs + ``_hist_days``; requests whose keys have no event on or
    before their as_of_date are dropped unless ``keep_without_history``.
    """
    maxes = maxes or {}
    metrics = sorted({m for m, _ in [*sums.values(), *maxes.values()]})
    req = (requests.select(*keys, C.AS_OF_DATE).distinct()
           .withColumn(DAY, day_num(F.col(C.AS_OF_DATE))).withColumn(REQ, F.lit(True)))
    for m in metrics:
        req = req.withColumn(m, F.lit(None).cast(daily.schema[m].dataType))
    dly = (daily.select(*keys, DAY, *metrics)
           .withColumn(C.AS_OF_DATE, F.lit(None).cast("date")).withColumn(REQ, F.lit(False)))
    both = dly.unionByName(req)
    base = Window.partitionBy(*keys).orderBy(DAY)

    def frame(days: int | None) -> Window:
        start = Window.unboundedPreceding if days is None else -(days - 1)
        return base.rangeBetween(start, 0)

    cols = [F.sum((~F.col(REQ)).cast("long")).over(frame(None)).alias(HIST)]
    cols += [F.coalesce(F.sum(m).over(frame(w)), F.lit(0)).alias(out) for out, (m, w) in sums.items()]
    cols += [F.max(m).over(frame(w)).alias(out) for out, (m, w) in maxes.items()]
    out = both.select(*keys, C.AS_OF_DATE, REQ, *cols).filter(F.col(REQ))
    if not keep_without_history:
        out = out.filter(F.col(HIST) > 0)
    return out.select(*keys, C.AS_OF_DATE, HIST, *sums, *maxes)


def snapshot_windows(daily: DataFrame, keys: Sequence[str], as_of: date,
                     sums: dict[str, tuple[str, int | None]],
                     maxes: dict[str, tuple[str, int | None]] | None = None,
                     keep_without_history: bool = False,
                     extra_keys: DataFrame | None = None) -> DataFrame:
    """``asof_windows`` for one request per key of ``daily`` (any day) and of ``extra_keys``, all at
    ``as_of`` -- the full snapshot -- as one aggregate per key instead of a window pass.

    Same output: keys + as_of_date + ``_hist_days`` + outputs; keys without a day on or before
    ``as_of`` are dropped unless ``keep_without_history`` (then ``_hist_days`` 0, sums 0, maxes
    null). Grouping, like the window's partitionBy, puts null keys together. A daily row with a
    null day (clean events always have an event_date) counts nowhere here; the window path's
    all-history frames would count it.
    """
    maxes = maxes or {}
    metrics = sorted({m for m, _ in [*sums.values(), *maxes.values()]})
    d = (as_of - date(1970, 1, 1)).days
    rows = daily.select(*keys, DAY, *metrics)
    if not keep_without_history:  # a key with no day <= as_of is dropped: its rows do not matter
        rows = rows.filter(F.col(DAY) <= F.lit(d))
    elif extra_keys is not None:  # key-only rows (null day, null metrics): a request, no history
        extra = extra_keys.select(*keys).withColumn(DAY, F.lit(None).cast(daily.schema[DAY].dataType))
        for m in metrics:
            extra = extra.withColumn(m, F.lit(None).cast(daily.schema[m].dataType))
        rows = rows.unionByName(extra)
    seen = F.col(DAY) <= F.lit(d)  # null for key-only rows

    def in_window(m: str, days: int | None) -> Column:
        cond = seen if days is None else seen & (F.col(DAY) > F.lit(d - days))
        return F.when(cond, F.col(m))

    # as_of_date as an aggregate: nullable like the window path's unioned column, so both paths
    # give the same schema, nullability included
    cols = [F.max(F.lit(as_of).cast("date")).alias(C.AS_OF_DATE),
            F.sum(F.when(seen, F.lit(1)).otherwise(F.lit(0)).cast("long")).alias(HIST)]
    cols += [F.coalesce(F.sum(in_window(m, w)), F.lit(0)).alias(out) for out, (m, w) in sums.items()]
    cols += [F.max(in_window(m, w)).alias(out) for out, (m, w) in maxes.items()]
    return rows.groupBy(*keys).agg(*cols).select(*keys, C.AS_OF_DATE, HIST, *sums, *maxes)


def windowed(daily: DataFrame, keys: Sequence[str], sums: dict[str, tuple[str, int | None]],
             maxes: dict[str, tuple[str, int | None]] | None = None, *, as_of: date | None,
             requests: DataFrame | None, keep_without_history: bool = False,
             extra_keys: DataFrame | None = None) -> DataFrame:
    """Windowed aggregates for every key of ``daily`` (and ``extra_keys``) at ``as_of`` and/or
    the explicit ``requests`` (keys, as_of_date), see ``resolve_requests``. The full snapshot
    alone (no explicit requests) takes ``snapshot_windows``; anything else, whatever mix of
    dates, the general window pass ``asof_windows``."""
    if requests is None and as_of is not None:
        return snapshot_windows(daily, keys, as_of, sums, maxes, keep_without_history, extra_keys)
    key_rows = daily.select(*keys)
    if extra_keys is not None:
        key_rows = key_rows.unionByName(extra_keys.select(*keys))
    return asof_windows(daily, resolve_requests(key_rows, keys, as_of, requests), keys, sums,
                        maxes, keep_without_history)


def days_since(ts_col: Column, as_of: Column) -> Column:
    """Days (fractional) from ``ts_col`` to the snapshot's valid-from time."""
    return (feature_ts(as_of).cast("double") - ts_col.cast("double")) / 86400.0


def price_band(price: Column) -> Column:
    """Log2 price band: 0 for < 2, 1 for [2, 4), ... (null price -> null)."""
    # when(): greatest() would skip a null price and put it in band 0
    return F.when(price.isNotNull(), F.floor(F.log2(F.greatest(price, F.lit(1.0)))).cast("int"))


def resolve_requests(keys: DataFrame, key_cols: Sequence[str], as_of: date | None,
                     requests: DataFrame | None) -> DataFrame:
    """Requests = every key at ``as_of`` (a full snapshot) and/or the explicit ``requests``."""
    if as_of is None and requests is None:
        raise ValueError("feature transform: give as_of and/or requests")
    parts = []
    if as_of is not None:
        parts.append(requests_at(keys.select(*key_cols), as_of))
    if requests is not None:
        parts.append(requests.select(*key_cols, F.col(C.AS_OF_DATE).cast("date")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.distinct()
