"""Feature-build benchmark: N synthetic clean events -> `ranklake features` wall time, and the
core as-of aggregations (item + user daily counts, windowed per request) in DuckDB on the same
Parquet files, as a ratio.

    .venv/bin/python benchmarks/features_bench.py --events 1000000 [--skip-spark]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

D = date(2026, 11, 20)


def synth(n_events: int, days: int = 30, seed: int = 5) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    n_items, n_users, n_q = 2000, max(1000, n_events // 50), 300
    n_sess = n_events // 6
    start = datetime.combine(D - timedelta(days=days - 1), datetime.min.time(), tzinfo=timezone.utc)
    s_day = rng.integers(0, days, n_sess)
    s_sec = rng.integers(0, 86000, n_sess)
    s_user = rng.integers(0, n_users, n_sess)
    s_q = np.where(rng.random(n_sess) < 0.5, rng.integers(0, n_q, n_sess), -1)
    rows_s = np.repeat(np.arange(n_sess), 6)
    slot = np.tile(np.arange(6), n_sess)
    item = rng.zipf(1.3, rows_s.size) % n_items
    u = rng.random(rows_s.size)
    etype = np.where(slot < 4, 0, np.where(u < 0.6, 1, np.where(u < 0.85, 2, 3)))
    ts = (np.datetime64(start.replace(tzinfo=None), "us") + (s_day[rows_s] * 86400 + s_sec[rows_s]
                                                             + slot * 20) * 1_000_000)
    types = np.array(["impression", "click", "add_to_cart", "purchase"])
    q = s_q[rows_s]
    events = pa.table({
        "event_id": pa.array([f"e{i}" for i in range(rows_s.size)]),
        "user_id": pa.array([f"u{x}" for x in s_user[rows_s]]),
        "session_id": pa.array([f"s{x}" for x in rows_s]),
        "query": pa.array([f"query {x % 50} term{x}" if x >= 0 else None for x in q]),
        "item_id": pa.array([f"i{x}" for x in item]),
        "event_type": pa.array(types[etype]),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "position": pa.array(np.where(slot < 4, slot + 1, 1).astype("int32")),
        "event_date": pa.array((ts.astype("datetime64[D]")), pa.date32()),
    })
    words = ["red", "blue", "shoe", "bag", "hat", "wool", "coat", "sock", "lamp", "desk"]
    cat = pa.table({
        "item_id": [f"i{i}" for i in range(n_items)],
        "title": [" ".join(words[(i * k) % 10] for k in (1, 3, 7)) for i in range(n_items)],
        "category": [f"root/c{i % 10}/l{i % 40}" for i in range(n_items)],
        "brand": [f"b{i % 30}" for i in range(n_items)],
        "price": [float(5 + i % 200) for i in range(n_items)],
        "in_stock": [i % 7 != 0 for i in range(n_items)],
        "created_at": pa.array([start - timedelta(days=i % 100) for i in range(n_items)],
                               pa.timestamp("us", tz="UTC"))})
    return events, cat


DUCK = """
with d as (
  select item_id, event_date, count(*) filter (where event_type='impression') n_impr,
         count(*) filter (where event_type='click') n_click
  from ev group by all),
r as (select distinct item_id, event_date - 1 as as_of from ev where event_date >= DATE '{start}')
select r.item_id, r.as_of,
  sum(n_impr) filter (where d.event_date > r.as_of - 1) i1,
  sum(n_impr) filter (where d.event_date > r.as_of - 7) i7,
  sum(n_impr) i30, sum(n_click) c30
from r join d on d.item_id = r.item_id and d.event_date <= r.as_of and d.event_date > r.as_of - 30
group by all
"""


def duck(events_path: str, start: date) -> float:
    import duckdb

    con = duckdb.connect()
    con.execute(f"create view ev as select * from read_parquet('{events_path}/**/*.parquet', "
                "hive_partitioning=true)")
    t0 = time.monotonic()
    n = con.execute(f"select count(*) from ({DUCK.format(start=start)})").fetchone()[0]
    for key in ("user_id",):
        con.execute(f"select count(*) from ({DUCK.format(start=start).replace('item_id', key)})")
    return time.monotonic() - t0 if n else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--skip-spark", action="store_true")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="ranklake-bench-")
    os.environ["RANKLAKE_HOME"] = root
    from deltalake import write_deltalake

    from jobs.common import cli
    from jobs.common.config import load_config
    from jobs.common.delta import _uri

    cfg = load_config("local")
    ev, cat = synth(a.events)
    write_deltalake(_uri(cfg, "interactions_clean"), ev, partition_by=["event_date"])
    write_deltalake(_uri(cfg, "catalog_clean"), cat)
    out = {"events": ev.num_rows}
    f = cfg.features
    start = D - timedelta(days=f.train_days + f.validation_days + f.test_days)
    out["duckdb_s"] = round(duck(_uri(cfg, "interactions_clean"), start), 2)
    if not a.skip_spark:
        t0 = time.monotonic()
        code = cli.execute("features", argparse.Namespace(run_date=D, labels=None), cfg)
        out["spark_features_s"] = round(time.monotonic() - t0, 1)
        out["exit"] = code
        out["ratio_spark_over_duckdb_core"] = round(out["spark_features_s"] / out["duckdb_s"], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
