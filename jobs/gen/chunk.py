"""One chunk of raw events as an Arrow table: clean sessions + injected dirty rows + late data.

Each injected row has exactly ONE problem and carries its reason code in ``_reason`` (the
generate job writes those to ``truth_dirty``). Codes are shared with the validate stage:
null_user_id, null_item_id, unknown_event_type, future_timestamp, too_old, duplicate,
unknown_item, bot_user, bot_click_rate, bad_position, malformed_query, exact_duplicate.

* duplicate: a copy of a clean row with a new event_id = original id + "-dup" (sorts after the
  original, so "keep the smallest event_id" keeps the original);
* exact_duplicate: an identical copy, event_id included (manifest names that event_id);
* bot_user: every event of a bot on its burst day (more than validate.bot_max_events_per_day
  clicks within two hours); bots have no other activity;
* bot_click_rate: every event of a fast clicker on its burst day: more than
  validate.bot_max_clicks_per_window clicks within 3/4 of one window, fewer events than the daily
  cap; its user id continues the world's ids (u<n>) but it has no raw_users row and no other
  activity. Humans never exceed half the click limit (jobs/gen/sessions.py);
* late data: ~late_fraction of clean rows land 1-3 days after date(ts) (never after the window);
* odd case: a few clean rows spell their (canonical) event type as " Click", "PURCHASE " ... which
  is valid after trim + lower-case, so those rows are NOT dirty.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobs.gen import vocab
from jobs.gen.sessions import US, SessionParams, generate_clean
from jobs.gen.world import WorldParams, get_world

EVENT_TYPE_NAMES = np.array(["impression", "click", "add_to_cart", "purchase"], dtype=object)
ROW_REASONS = ("null_user_id", "null_item_id", "unknown_event_type", "future_timestamp", "too_old",
               "duplicate", "unknown_item", "bad_position", "malformed_query", "exact_duplicate")
APPENDED = ("duplicate", "exact_duplicate")
REASONS = (*ROW_REASONS, "bot_user", "bot_click_rate")
REASON_DICT = pa.array(list(REASONS), pa.string())
DAY_US = 86_400 * US

SCHEMA = pa.schema([
    ("event_id", pa.string()), ("user_id", pa.string()), ("session_id", pa.string()),
    ("query", pa.string()), ("item_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")), ("position", pa.int32()), ("ingest_date", pa.date32()),
    ("_reason", pa.string()), ("_qn", pa.string()), ("_uu", pa.float64()), ("_uq", pa.float64()),
])
SPARK_SCHEMA = ("event_id string, user_id string, session_id string, query string, item_id string, "
                "event_type string, ts timestamp, position int, ingest_date date, _reason string, "
                "_qn string, _uu double, _uq double")


@dataclass(frozen=True)
class ChunkSpec:
    chunk_id: int
    day: int
    block: int
    nblocks: int
    n_base: int  # clean rows generated before duplicates are appended
    reasons: tuple[tuple[str, int], ...]
    bots: tuple[tuple[int, int], ...] = ()  # (user index, events on this day)
    fast_bots: tuple[tuple[int, int], ...] = ()  # (fast clicker index, clicks on this day)


@dataclass(frozen=True)
class GenParams:
    seed: int
    world: WorldParams
    sessions: SessionParams
    late_fraction: float
    odd_case_fraction: float
    max_age_days: int
    fast_bot_users: int = 0


def _ids(prefix: str, seq: np.ndarray, width: int, suffix: np.ndarray | None = None) -> pa.Array:
    import pyarrow.compute as pc

    num = pc.utf8_lpad(pc.cast(pa.array(seq, pa.int64()), pa.string()), width, "0")
    parts = [pa.scalar(prefix), num] + ([_decode(suffix, SUFFIX_DICT)] if suffix is not None else [])
    return pc.binary_join_element_wise(*parts, "")


def _decode(codes: np.ndarray, dictionary: pa.Array) -> pa.Array:
    """int codes (-1 = null) into a dictionary of strings -> a plain string array."""
    idx = pa.array(codes.astype(np.int32), pa.int32(), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(idx, dictionary).dictionary_decode()


SUFFIX_DICT = pa.array(["", "-dup"], pa.string())
# event type codes: 0-3 canonical, 4 + 4*t + style odd spellings (valid), 20+ unknown (dirty)
ETYPE_DICT = pa.array(
    list(EVENT_TYPE_NAMES) + [v for t in EVENT_TYPE_NAMES
                              for v in (t.upper(), " " + t.title(), t + " ", " " + t.upper() + " ")]
    + vocab.UNKNOWN_EVENT_TYPES, pa.string())
MALFORMED_QUERIES = ["red\x07running shoes", "shoe " * 50, "?!!...", "\tlaptop\x00"]


def _dicts(gp: GenParams) -> dict[str, pa.Array]:
    w = get_world(gp.world)
    attr = f"_arrow_dicts_{gp.fast_bot_users}"
    cached = getattr(w, attr, None)
    if cached is None:
        v = max(len(x) for x in w.variant_text) if w.variant_text else 1
        flat_q = [x[i] if i < len(x) else "" for x in w.variant_text for i in range(v)]
        flat_n = [x[i] if i < len(x) else "" for x in w.variant_norm for i in range(v)]
        unknown = [f"i{gp.world.items + 1 + j:07d}" for j in range(997)]
        n = len(w.user_ids)  # fast clickers: codes n + 1 + f (code n is the blank user id)
        fast = [f"u{n + f:07d}" for f in range(gp.fast_bot_users)]
        cached = {"v": v,
                  "user": pa.array(list(w.user_ids) + [""] + fast, pa.string()),
                  "item": pa.array(list(w.item_ids) + unknown, pa.string()),
                  "query": pa.array(flat_q + MALFORMED_QUERIES, pa.string()),
                  "qn": pa.array(flat_n, pa.string())}
        setattr(w, attr, cached)
    return cached


def build_chunk(gp: GenParams, cs: ChunkSpec) -> pa.Table:
    w = get_world(gp.world)
    d = _dicts(gp)
    n_users, n_items, n_flat = len(w.user_ids), len(w.item_ids), len(d["qn"])
    rng = np.random.default_rng([gp.seed, 100, cs.chunk_id])
    ev = generate_clean(w, rng, cs.day, cs.block, cs.nblocks, cs.n_base, gp.sessions)
    n = len(ev["sess"])
    has_q = ev["qi"] >= 0
    c = {"seq": np.arange(n, dtype=np.int64), "suffix": np.zeros(n, np.int64),
         "user": ev["user"].astype(np.int64), "sess": ev["sess"].astype(np.int64),
         "query": np.where(has_q, ev["qi"] * d["v"] + ev["vi"], -1),
         "item": ev["item"].astype(np.int64), "etype": ev["etype"].astype(np.int64),
         "ts": ev["ts"].astype(np.int64), "pos": np.where(ev["pos"] > 0, ev["pos"], -1).astype(np.int64),
         "ingest": np.full(n, cs.day, np.int64), "reason": np.full(n, -1, np.int64),
         "uu": ev["uu"], "uq": ev["uq"]}
    c["qn"] = c["query"].copy()

    # ---- pick disjoint rows for every reason (one problem per row)
    used = np.zeros(n, bool)
    perm = rng.permutation(n)
    picks: dict[str, np.ndarray] = {}
    for r, k in cs.reasons:
        elig = ~used
        if r == "malformed_query":
            elig &= has_q
        elif r == "bad_position":
            elig &= c["pos"] > 0
        cand = perm[elig[perm]][:k]
        if len(cand) < k:  # not enough eligible rows (tiny chunk): fall back to any unused row
            rest = perm[~used[perm] & ~np.isin(perm, cand)]
            cand = np.r_[cand, rest[:k - len(cand)]]
        used[cand] = True
        picks[r] = cand
    day0 = gp.world.day_start_us(cs.day)
    for r, idx in picks.items():
        m = len(idx)
        if r in APPENDED or m == 0:
            continue
        c["reason"][idx] = REASONS.index(r)
        if r == "null_user_id":
            c["user"][idx] = np.where(np.arange(m) % 2 == 0, -1, n_users)  # null or ""
        elif r == "null_item_id":
            c["item"][idx] = -1
        elif r == "unknown_event_type":
            c["etype"][idx] = 20 + rng.integers(0, len(vocab.UNKNOWN_EVENT_TYPES), m)
        elif r == "future_timestamp":
            c["ts"][idx] = day0 + 2 * DAY_US + rng.integers(3600 * US, 5 * DAY_US, m)
        elif r == "too_old":
            c["ts"][idx] = (day0 - (gp.max_age_days + 1 + rng.integers(1, 200, m)) * DAY_US
                            + rng.integers(0, DAY_US, m))
        elif r == "unknown_item":
            c["item"][idx] = n_items + rng.integers(0, 997, m)
        elif r == "bad_position":
            c["pos"][idx] = rng.choice(np.array([0, -3, 1001, 5000]), m)
        elif r == "malformed_query":
            c["query"][idx] = n_flat + np.arange(m) % len(MALFORMED_QUERIES)
    # ---- late data and odd-case event types, on clean rows only
    clean = ~used
    lag = rng.integers(1, 4, n)
    late = clean & (rng.random(n) < gp.late_fraction) & (cs.day + lag <= gp.world.days - 1)
    c["ingest"][late] += lag[late]
    odd = clean & (rng.random(n) < gp.odd_case_fraction)
    c["etype"][odd] = 4 + 4 * c["etype"][odd] + rng.integers(0, 4, int(odd.sum()))

    extra = []
    for r in APPENDED:
        idx = picks.get(r, np.zeros(0, np.int64))
        if len(idx):
            cp = {k: v[idx].copy() for k, v in c.items()}
            cp["suffix"][:] = 1 if r == "duplicate" else 0
            cp["reason"][:] = REASONS.index(r)
            extra.append(cp)
    n_sess = int(c["sess"].max()) + 1 if n else 0
    for b, (uidx, n_bot) in enumerate(cs.bots):
        extra.append(_bot_rows(gp, cs, rng, uidx, n_bot, n + b * 10**6, n_sess + b * 1000))
    for f, (fidx, n_fast) in enumerate(cs.fast_bots):
        b = len(cs.bots) + f
        extra.append(_fast_bot_rows(gp, cs, rng, n_users + 1 + fidx, n_fast, n + b * 10**6,
                                    n_sess + b * 1000))
    if extra:
        c = {k: np.concatenate([c[k], *[e[k] for e in extra]]) for k in c}
    return _to_arrow(gp, cs, c, d)


def _bot_rows(gp: GenParams, cs: ChunkSpec, rng: np.random.Generator, uidx: int, n: int,
              seq0: int, sess0: int) -> dict[str, np.ndarray]:
    w = get_world(gp.world)
    start = gp.world.day_start_us(cs.day) + int(rng.integers(0, 21)) * 3600 * US
    step = (2 * 3600 * US) // max(n, 1)
    ts = start + np.arange(n, dtype=np.int64) * step + rng.integers(0, max(step, 1), n)
    avail = np.nonzero(w.item_created_day < cs.day)[0]
    return {"seq": seq0 + np.arange(n, dtype=np.int64), "suffix": np.zeros(n, np.int64),
            "user": np.full(n, uidx, np.int64), "sess": sess0 + np.arange(n, dtype=np.int64) // 50,
            "query": np.full(n, -1, np.int64), "item": rng.choice(avail, n).astype(np.int64),
            "etype": np.full(n, 1, np.int64), "ts": ts,
            "pos": rng.integers(1, gp.sessions.list_size + 1, n).astype(np.int64),
            "ingest": np.full(n, cs.day, np.int64), "reason": np.full(n, REASONS.index("bot_user")),
            "uu": np.full(n, np.nan), "uq": np.full(n, np.nan), "qn": np.full(n, -1, np.int64)}


def _fast_bot_rows(gp: GenParams, cs: ChunkSpec, rng: np.random.Generator, code: int, n: int,
                   seq0: int, sess0: int) -> dict[str, np.ndarray]:
    """n clicks (n > the click limit) within 3/4 of one window: one inhuman burst, one session."""
    w = get_world(gp.world)
    span = max(1, gp.sessions.click_window_us * 3 // 4)
    start = (gp.world.day_start_us(cs.day) + int(rng.integers(0, 23)) * 3600 * US
             + int(rng.integers(0, 3600 * US - span)))
    ts = start + np.sort(rng.integers(0, span, n))
    avail = np.nonzero(w.item_created_day < cs.day)[0]
    return {"seq": seq0 + np.arange(n, dtype=np.int64), "suffix": np.zeros(n, np.int64),
            "user": np.full(n, code, np.int64), "sess": np.full(n, sess0, np.int64),
            "query": np.full(n, -1, np.int64),
            # distinct items: two equal (user, item, click, ts) rows would be a `duplicate`
            "item": rng.choice(avail, n, replace=len(avail) < n).astype(np.int64),
            "etype": np.full(n, 1, np.int64), "ts": ts.astype(np.int64),
            "pos": rng.integers(1, gp.sessions.list_size + 1, n).astype(np.int64),
            "ingest": np.full(n, cs.day, np.int64),
            "reason": np.full(n, REASONS.index("bot_click_rate")),
            "uu": np.full(n, np.nan), "uq": np.full(n, np.nan), "qn": np.full(n, -1, np.int64)}


def _to_arrow(gp: GenParams, cs: ChunkSpec, c: dict[str, np.ndarray], d: dict[str, pa.Array]) -> pa.Table:
    epoch_day = gp.world.day_start_us(0) // DAY_US
    pos = c["pos"]
    arrays = [
        _ids(f"e{cs.chunk_id:05d}-", c["seq"], 7, c["suffix"]), _decode(c["user"], d["user"]),
        _ids(f"s{cs.chunk_id:05d}-", c["sess"], 6), _decode(c["query"], d["query"]),
        _decode(c["item"], d["item"]), _decode(c["etype"], ETYPE_DICT),
        pa.array(c["ts"], pa.timestamp("us", tz="UTC")),
        pa.array(pos.astype(np.int32), pa.int32(), mask=pos == -1),
        pa.array((c["ingest"] + epoch_day).astype(np.int32), pa.date32()),
        _decode(c["reason"], REASON_DICT), _decode(c["qn"], d["qn"]),
        pa.array(np.round(c["uu"], 6), pa.float64(), mask=np.isnan(c["uu"])),
        pa.array(np.round(c["uq"], 6), pa.float64(), mask=np.isnan(c["uq"])),
    ]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
