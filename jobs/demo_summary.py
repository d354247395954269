"""Prints what ``make demo`` produced: every table with its version and row count, a sample list,
the run records, and how to query the tables and start the lookup service.

    python -m jobs.demo_summary --env local --run-date 2026-11-20
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from jobs.common import runlog
from jobs.common.config import artifacts_root, load_config
from jobs.common.tables import TABLES, table_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.demo_summary")
    p.add_argument("--env", default="local")
    p.add_argument("--run-date", required=True)
    args = p.parse_args(argv)
    cfg = load_config(args.env)
    import pyarrow as pa
    from deltalake import DeltaTable

    print(f"\nranklake demo: results for run date {args.run_date} (env {cfg.env})")
    print(f"lake root: {os.path.abspath(cfg.lake.root)}\n")
    print(f"{'table':<26} {'version':>7} {'rows':>10}  path")
    for name in TABLES:
        path = table_path(cfg, name)
        if not DeltaTable.is_deltatable(path):
            continue
        dt = DeltaTable(path)
        # deltalake 1.x returns an arro3 table: read it through the Arrow C stream interface
        actions = pa.table(dt.get_add_actions(flatten=True))
        rows = sum(n or 0 for n in actions.column("num_records").to_pylist())
        print(f"{name:<26} {dt.version():>7} {rows:>10}  {path}")
    print("\nrun records:")
    for job in ("generate", "validate", "features", "train", "topk", "publish"):
        for date in (args.run_date, "adhoc"):
            try:
                rec = runlog.load(cfg, job, date)
            except OSError:
                continue
            print(f"  {job:<9} {rec['status']:<7} {rec['duration_s']:>6.1f}s  "
                  f"{json.dumps(rec['counts'])[:110]}")
            break
    topk = table_path(cfg, "topk_user")
    if DeltaTable.is_deltatable(topk):
        import polars as pl

        sample = (pl.read_delta(topk).filter(pl.col("run_date").cast(pl.Utf8) == args.run_date)
                  .head(1).to_dicts())
        if sample:
            row = sample[0]
            items = ", ".join(f"{i['item_id']}({i['score']:.2f})" for i in row["items"][:5])
            print(f"\nexample: user {row['entity_id']} [{row['source']}, model {row['model_version']}]"
                  f" -> {items} ...")
    print(f"""
query the lists:
  DuckDB : select entity_id, items[1] from delta_scan('{topk}') limit 5
           (LOAD the delta extension shipped by the duckdb-ext-delta package first; see README)
  Polars : python -c "import polars as pl; print(pl.read_delta('{topk}').head())"
  Spark  : jobs.common.delta.read_table(spark, cfg, 'topk_user',
                                        filters=[('run_date', '=', '{args.run_date}')])
artifacts (models, reports, run records): {os.path.abspath(artifacts_root(cfg))}
serve the lists over HTTP:  make serve
  then  curl 'http://127.0.0.1:{cfg.serving.port}/v1/recommend?user_id=<id>&k=10'
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
