"""The generation plan: how many rows, dirty rows and bots each chunk (day x user block) gets.

Computed on the driver from the config alone (no data), with exact integer allocation, so the
totals are exact: raw_events has ``events`` rows, of which round(events * dirty_fraction) are
listed in truth_dirty. Bots take at most half of the dirty budget (a bot day needs more than
validate.bot_max_events_per_day events); the rest is split evenly over the row-level reasons.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from jobs.common.config import ConfigError
from jobs.gen import vocab
from jobs.gen.chunk import APPENDED, ROW_REASONS, ChunkSpec, GenParams
from jobs.gen.sessions import SessionParams
from jobs.gen.world import WorldParams


@dataclass(frozen=True)
class GenSettings:
    seed: int
    events: int
    days: int
    users: int
    items: int
    queries: int
    dirty_fraction: float
    bot_users: int
    end_date: date
    chunk_rows: int
    list_size: int
    search_share: float
    late_fraction: float
    odd_case_fraction: float
    zipf_alpha: float
    bot_threshold: int  # validate.bot_max_events_per_day
    max_age_days: int  # validate.max_event_age_days


@dataclass(frozen=True)
class Plan:
    params: GenParams
    chunks: tuple[ChunkSpec, ...]
    dirty_rows: int
    bot_rows: int
    bots: int
    normal_users: int


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` into integers proportional to ``weights``."""
    w = np.asarray(weights, np.float64)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), np.int64)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        order = np.lexsort((np.arange(len(w)), -(raw - out)))
        out[order[:rest]] += 1
    return out


def make_plan(s: GenSettings) -> Plan:
    if s.events < 1 or s.days < 1:
        raise ConfigError(f"generate: events ({s.events}) and days ({s.days}) must be >= 1")
    if not 0.0 <= s.dirty_fraction < 0.5:
        raise ConfigError(f"generate.dirty_fraction must be in [0, 0.5), got {s.dirty_fraction}")
    cap = int(0.4 * s.bot_threshold)
    if cap < 3 * s.list_size:
        raise ConfigError(f"validate.bot_max_events_per_day={s.bot_threshold} is too small for "
                          f"generate.list_size={s.list_size}: need >= {math.ceil(7.5 * s.list_size)}")
    rng = np.random.default_rng([s.seed, 50])
    dirty = round(s.events * s.dirty_fraction)
    # bots: each has one burst day with threshold+1.. events, within half the dirty budget
    bot_sizes: list[int] = []
    for _ in range(s.bot_users):
        n = s.bot_threshold + 1 + int(rng.integers(0, max(1, s.bot_threshold // 5)))
        if sum(bot_sizes) + n > dirty // 2:
            break
        bot_sizes.append(n)
    bot_days = [int(rng.integers(0, s.days)) for _ in bot_sizes]
    bot_rows = sum(bot_sizes)
    row_dirty = dirty - bot_rows
    per_reason = allocate(row_dirty, np.ones(len(ROW_REASONS)))
    # days: weekday pattern x slow growth
    start = s.end_date.toordinal() - (s.days - 1)
    day_w = np.array([vocab.WEEKDAY_WEIGHTS[date.fromordinal(start + d).weekday()]
                      * (1.0 + 0.25 * d / max(1, s.days - 1)) for d in range(s.days)])
    day_rows = allocate(s.events - bot_rows, day_w)
    max_day = int(day_rows.max())
    nblocks = max(1, math.ceil(max_day / s.chunk_rows))
    # enough users that nobody but a bot nears the per-user-day threshold
    normal_users = max(s.users, math.ceil(24 * max_day / cap), 1)
    quotas = np.concatenate([allocate(int(r), np.ones(nblocks)) for r in day_rows])
    reason_alloc = {r: allocate(int(k), quotas) for r, k in zip(ROW_REASONS, per_reason)}
    bots_by_chunk: dict[int, list[tuple[int, int]]] = {}
    for b, (size, d) in enumerate(zip(bot_sizes, bot_days)):
        bots_by_chunk.setdefault(d * nblocks, []).append((normal_users + b, size))
    chunks = []
    for c, q in enumerate(quotas):
        reasons = tuple((r, int(reason_alloc[r][c])) for r in ROW_REASONS)
        appended = sum(k for r, k in reasons if r in APPENDED)
        chunks.append(ChunkSpec(chunk_id=c, day=c // nblocks, block=c % nblocks, nblocks=nblocks,
                                n_base=int(q) - appended, reasons=reasons,
                                bots=tuple(bots_by_chunk.get(c, ()))))
    world = WorldParams(seed=s.seed, items=s.items, users=normal_users + len(bot_sizes),
                        queries=s.queries, days=s.days, end_date=s.end_date, zipf_alpha=s.zipf_alpha)
    sp = SessionParams(list_size=s.list_size, search_share=s.search_share, user_day_cap=cap,
                       normal_users=normal_users)
    gp = GenParams(seed=s.seed, world=world, sessions=sp, late_fraction=s.late_fraction,
                   odd_case_fraction=s.odd_case_fraction, max_age_days=s.max_age_days)
    return Plan(gp, tuple(chunks), dirty, bot_rows, len(bot_sizes), normal_users)
