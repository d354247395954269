"""The generation plan: how many rows, dirty rows and bots each chunk (day x user block) gets.

Computed on the driver from the config alone (no data), with exact integer allocation, so the
totals are exact: raw_events has ``events`` rows, of which round(events * dirty_fraction) are
listed in truth_dirty. Bots take at most half of the dirty budget (a bot day needs more than
validate.bot_max_events_per_day events); fast clickers (more than validate.bot_max_clicks_per_window
clicks within one window, but under the daily cap) at most a further quarter; the rest is split
evenly over the row-level reasons.
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
    fast_bot_users: int = 0
    click_limit: int = 20  # validate.bot_max_clicks_per_window
    click_window_s: int = 60  # validate.bot_click_window_seconds


@dataclass(frozen=True)
class Plan:
    params: GenParams
    chunks: tuple[ChunkSpec, ...]
    dirty_rows: int
    bot_rows: int  # slow and fast bots
    bots: int
    normal_users: int
    fast_bots: int = 0


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
    _check_click_limits(s)
    rng = np.random.default_rng([s.seed, 50])
    dirty = round(s.events * s.dirty_fraction)
    # bots: each has one burst day with threshold+1.. events, within half the dirty budget
    bot_sizes = _burst_sizes(rng, s.bot_users, s.bot_threshold + 1, s.bot_threshold // 5, dirty // 2)
    bot_days = [int(rng.integers(0, s.days)) for _ in bot_sizes]
    # fast clickers: limit+1 .. 1.5 x limit clicks in one burst (own stream: the slow bots and
    # everything drawn above stay as they were without fast clickers)
    frng = np.random.default_rng([s.seed, 51])
    fast_sizes = _burst_sizes(frng, s.fast_bot_users, s.click_limit + 1, s.click_limit // 2,
                              dirty // 4)
    fast_days = [int(frng.integers(0, s.days)) for _ in fast_sizes]
    bot_rows = sum(bot_sizes) + sum(fast_sizes)
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
    fast_by_chunk: dict[int, list[tuple[int, int]]] = {}
    for f, (size, d) in enumerate(zip(fast_sizes, fast_days)):
        fast_by_chunk.setdefault(d * nblocks, []).append((f, size))
    chunks = []
    for c, q in enumerate(quotas):
        reasons = tuple((r, int(reason_alloc[r][c])) for r in ROW_REASONS)
        appended = sum(k for r, k in reasons if r in APPENDED)
        chunks.append(ChunkSpec(chunk_id=c, day=c // nblocks, block=c % nblocks, nblocks=nblocks,
                                n_base=int(q) - appended, reasons=reasons,
                                bots=tuple(bots_by_chunk.get(c, ())),
                                fast_bots=tuple(fast_by_chunk.get(c, ()))))
    world = WorldParams(seed=s.seed, items=s.items, users=normal_users + len(bot_sizes),
                        queries=s.queries, days=s.days, end_date=s.end_date, zipf_alpha=s.zipf_alpha)
    # humans stay at half the click limit (like the daily cap), so a duplicate or a shifted
    # dirty row can never push a human over it
    sp = SessionParams(list_size=s.list_size, search_share=s.search_share, user_day_cap=cap,
                       normal_users=normal_users, click_cap=max(1, s.click_limit // 2),
                       click_window_us=s.click_window_s * 1_000_000)
    gp = GenParams(seed=s.seed, world=world, sessions=sp, late_fraction=s.late_fraction,
                   odd_case_fraction=s.odd_case_fraction, max_age_days=s.max_age_days,
                   fast_bot_users=len(fast_sizes))
    return Plan(gp, tuple(chunks), dirty, bot_rows, len(bot_sizes), normal_users, len(fast_sizes))


def _check_click_limits(s: GenSettings) -> None:
    """Slow bots must not also click too fast, fast clickers must stay under the daily cap, and
    the limit must leave room for one human result page (else every label would be wrong)."""
    if s.click_limit < s.list_size:
        raise ConfigError(f"validate.bot_max_clicks_per_window={s.click_limit} is too small for "
                          f"generate.list_size={s.list_size}: need >= {s.list_size}")
    if s.fast_bot_users and s.click_limit + s.click_limit // 2 > s.bot_threshold:
        raise ConfigError(f"generate.fast_bot_users: a fast clicker has up to "
                          f"{s.click_limit + s.click_limit // 2} clicks (1.5 x validate."
                          f"bot_max_clicks_per_window), more than validate.bot_max_events_per_day"
                          f"={s.bot_threshold}")
    slow_max = s.bot_threshold + 1 + max(1, s.bot_threshold // 5)
    # a slow bot spreads its clicks one per slot of 2 h / n: a window holds ceil(w / slot) + 1
    per_window = math.ceil(s.click_window_s * slow_max / 7200) + 1
    if s.bot_users and per_window > s.click_limit:
        raise ConfigError(f"validate.bot_max_events_per_day={s.bot_threshold}: a generated bot "
                          f"(up to {slow_max} clicks in 2 hours) would click {per_window} times per "
                          f"{s.click_window_s} s, over validate.bot_max_clicks_per_window="
                          f"{s.click_limit}; raise the click limit or set generate.bot_users=0")


def _burst_sizes(rng: np.random.Generator, count: int, base: int, spread: int,
                 budget: int) -> list[int]:
    """Up to ``count`` burst sizes in [base, base + spread), stopping before ``budget`` rows."""
    sizes: list[int] = []
    for _ in range(count):
        n = base + int(rng.integers(0, max(1, spread)))
        if sum(sizes) + n > budget:
            break
        sizes.append(n)
    return sizes
