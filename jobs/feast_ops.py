"""Feast operations over the feature tables written by ``ranklake features``.

    ranklake feast apply       --env local --run-date 2026-11-20   # register entities/views/services
    ranklake feast materialize --env local --run-date 2026-11-20   # export snapshot D, load Redis
    ranklake feast parity      --env local --run-date 2026-11-20 [--sample 50]  # Redis == offline
    ranklake feast historical  --env local --run-date 2026-11-20 [--sample 50]  # Feast PIT == Spark
    spark-submit jobs/main.py feast materialize --env emr --run-date 2026-11-20

feature_store.yaml is rendered per env from config into <artifacts>/feast/<env>/ (registry next to
it, Redis from redis.url/REDIS_URL, password from REDIS_PASSWORD; on EMR both come from the secret
redis.secret_arn). The file is mode 0600: it holds the password. Feast reads a Parquet export of
each Delta table under <lake>/feast/<table>/ (why: feature_repo/sources.py), rewritten by
``materialize`` and ``historical``. Reads the features_* tables and training_set; writes the
export, the Feast registry and the Redis online store.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from jobs.common.cli import run_module
from jobs.common.config import ConfigError, artifacts_root, is_remote, join
from jobs.common.errors import CheckFailed
from jobs.feast_check import compare_rows, historical_check, parity_rows

if TYPE_CHECKING:
    from feast import FeatureStore
    from pyspark.sql import SparkSession

    from jobs.common.cli import JobContext
    from jobs.common.config import Settings

REPO = Path(__file__).resolve().parents[1] / "feature_repo"
ACTIONS = ("apply", "materialize", "parity", "historical")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("--sample", type=int, default=None,
                   help="entities/rows checked by parity/historical (default features.parity_sample)")


def redis_connection_string(url: str | None, password: str | None = None, tls: bool = False) -> str:
    """redis://[:pw@]host:port[/db] | rediss://... | unix:///path.sock -> Feast's
    ``host:port[,db=n][,password=..][,ssl=true]`` (a socket: ``localhost:0,unix_socket_path=..``)."""
    if not url:
        raise ConfigError("feast needs a Redis server: set redis.url (REDIS_URL), e.g. "
                          "redis://localhost:6379/0")
    u = urlparse(url)
    if u.scheme == "unix":
        parts = ["localhost:0", f"unix_socket_path={u.path}"]
    elif u.scheme in ("redis", "rediss"):
        parts = [f"{u.hostname or 'localhost'}:{u.port or 6379}"]
        db = (u.path or "/").strip("/")
        if db:
            parts.append(f"db={int(db)}")
        if u.scheme == "rediss" or tls:
            parts.append("ssl=true")
    else:
        raise ConfigError(f"redis.url: unsupported scheme {u.scheme!r} (redis://, rediss://, unix://)")
    pw = password or (unquote(u.password) if u.password else None)
    if pw:
        parts.append(f"password={pw}")
    return ",".join(parts)


def source_root(cfg: Settings) -> str:
    root = join(cfg.lake.root, "feast")
    return root if is_remote(root) else os.path.abspath(root)


def render_config(cfg: Settings, redis_url: str | None = None) -> Path:
    """Write feature_store.yaml for cfg.env; returns its (local) path."""
    import yaml

    art = artifacts_root(cfg)
    local_dir = Path(art if not is_remote(art) else "/tmp/ranklake-feast").resolve() / "feast" / cfg.env
    local_dir.mkdir(parents=True, exist_ok=True)
    registry = join(art, "feast", cfg.env, "registry.db") if is_remote(art) else str(
        local_dir / "registry.db")
    url, password = redis_url or cfg.redis.url, cfg.redis.password
    if not url:  # as every other stage: the ElastiCache secret (EMR), else the embedded server
        from jobs.serving.redis_conn import params_from_config

        params = params_from_config(cfg)  # a remote lake without either is a clear error there
        url, password = params.url, params.password
    conf = {"project": "ranklake", "provider": "local", "registry": registry,
            "offline_store": {"type": "file"},
            "online_store": {"type": "redis", "connection_string": redis_connection_string(
                url, password, cfg.redis.tls)},
            "entity_key_serialization_version": 3}
    path = local_dir / "feature_store.yaml"
    path.touch(mode=0o600)  # it may hold the Redis password
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    return path


def objects(cfg: Settings) -> dict[str, Any]:
    from feature_repo.entities import ENTITIES
    from feature_repo.services import build_services
    from feature_repo.sources import build_sources
    from feature_repo.views import build_views

    views = build_views(build_sources(source_root(cfg)))
    return {"entities": ENTITIES, "views": views, "services": build_services(views)}


def get_store(cfg: Settings, redis_url: str | None = None) -> FeatureStore:
    from feast import FeatureStore

    return FeatureStore(repo_path=str(REPO), fs_yaml_file=render_config(cfg, redis_url))


def apply(cfg: Settings, redis_url: str | None = None) -> FeatureStore:
    store = get_store(cfg, redis_url)
    obj = objects(cfg)
    store.apply([*obj["entities"], *obj["views"].values(), *obj["services"].values()])
    return store


def export(spark: SparkSession, cfg: Settings) -> dict[str, int]:
    """Current Delta version of every feature table -> Parquet under <lake>/feast/<table>."""
    from feature_repo.sources import TABLES
    from jobs.common.delta import read_table

    rows = {}
    for t in TABLES:
        df = read_table(spark, cfg, t)
        df.write.mode("overwrite").parquet(f"{source_root(cfg)}/{t}")
        rows[t] = df.count()
    return rows


def snapshot_ts(run_date: date) -> datetime:
    """feature_ts of the serving snapshot of run date D (as_of_date = D)."""
    return datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=timezone.utc)


def materialize(spark: SparkSession, cfg: Settings, run_date: date,
                redis_url: str | None = None) -> dict[str, int]:
    rows = export(spark, cfg)
    store = apply(cfg, redis_url)
    start = snapshot_ts(run_date)
    store.materialize(start_date=start, end_date=start + timedelta(minutes=1))
    return rows


def parity(spark: SparkSession, cfg: Settings, run_date: date, sample: int,
           redis_url: str | None = None) -> int:
    """Online (Redis) values == the Delta snapshot's values for ``sample`` entities per view."""
    store = get_store(cfg, redis_url)
    checked = 0
    for view in objects(cfg)["views"].values():
        offline, keys, feats = parity_rows(spark, cfg, view, run_date, sample)
        if not offline:
            continue
        online = store.get_online_features(
            features=[f"{view.name}:{f}" for f in feats],
            entity_rows=[{k: r[k] for k in keys} for r in offline]).to_dict()
        got = [{f: online[f][i] for f in feats} for i in range(len(offline))]
        mismatches = compare_rows(view.name, keys, feats, offline, got)
        if mismatches:
            raise CheckFailed(f"feast parity failed: {mismatches[0]}"
                              + (f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""))
        checked += len(offline)
    return checked


def run(ctx: JobContext) -> None:
    cfg, d, args, rec = ctx.cfg, ctx.run_date, ctx.args, ctx.rec
    assert d is not None
    sample = args.sample or cfg.features.parity_sample
    with rec.stage(args.action):
        if args.action == "apply":
            apply(cfg)
        elif args.action == "materialize":
            for t, n in materialize(ctx.spark, cfg, d).items():
                rec.count(f"exported_{t}", n)
        elif args.action == "parity":
            rec.count("parity_entities_checked", parity(ctx.spark, cfg, d, sample))
        else:
            export(ctx.spark, cfg)
            rec.count("historical_rows_checked",
                      historical_check(ctx.spark, cfg, get_store(cfg), objects(cfg)["views"], d,
                                       sample))


if __name__ == "__main__":
    sys.exit(run_module("feast"))
