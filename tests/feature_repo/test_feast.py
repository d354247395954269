"""Feast repo applied against a real Redis, materialisation, parity pass/fail and point-in-time
historical retrieval on a hand-made example."""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs import feast_ops
from jobs.common import cli
from jobs.common.config import load_config
from jobs.common.delta import write_table
from jobs.feats import build
from jobs.feats.base import Priors, Windows
from tests.features.conftest import D1, D2, D3

W, P = Windows(1, 2, 3), Priors()


@pytest.fixture(scope="module")
def feast_cfg(spark, events, catalog, redis_server):
    cfg = load_config("test", [f"redis.url={redis_server}"])
    snaps = [build.compute(events, catalog, None, reqs=None, as_of=d, windows=W, priors=P)
             for d in (D1, D2)]
    for name in build.TABLES:
        write_table(snaps[0][name].unionByName(snaps[1][name]), cfg, name, mode="overwrite")
    return cfg


def _cli(cfg, spark, action):
    ns = argparse.Namespace(action=action, run_date=D2, sample=None)
    return cli.execute("feast", ns, cfg, spark)


def test_apply_materialize_and_parity(spark, feast_cfg, redis_url):
    store = feast_ops.apply(feast_cfg)
    assert {v.name for v in store.list_feature_views()} == {
        "user_features", "item_features", "query_features", "query_item_features",
        "user_item_features", "user_affinity_features"}
    assert {s.name for s in store.list_feature_services()} == {"ranking_training",
                                                               "ranking_serving"}
    assert _cli(feast_cfg, spark, "materialize") == 0
    online = store.get_online_features(features=["user_features:u_clicks_long",
                                                 "user_features:u_ctr"],
                                       entity_rows=[{"user_id": "u1"}, {"user_id": "nobody"}]
                                       ).to_dict()
    assert online["u_clicks_long"] == [2.0, None]
    assert online["u_ctr"][0] == pytest.approx((2 + 2) / (4 + 20))
    assert _cli(feast_cfg, spark, "parity") == 0
    assert feast_ops.parity(spark, feast_cfg, D2, 50) >= 10

    # the offline snapshot changes after materialisation: parity names entity and feature
    from jobs.common.delta import read_table

    snap = read_table(spark, feast_cfg, "features_user", filters=[("as_of_date", "=", D2)])
    write_table(snap.withColumn("u_ctr", F.when(F.col("user_id") == "u1", F.lit(0.5))
                                .otherwise(F.col("u_ctr"))),
                feast_cfg, "features_user", mode="replace", partitions={"as_of_date": [D2]})
    with pytest.raises(Exception, match=r"user_features\.u_ctr for user_id=u1: online=0\.1666"):
        feast_ops.parity(spark, feast_cfg, D2, 50)
    assert _cli(feast_cfg, spark, "parity") == 3  # CheckFailed exit code


def test_historical_point_in_time(spark, feast_cfg):
    feast_ops.export(spark, feast_cfg)
    store = feast_ops.apply(feast_cfg)
    utc = timezone.utc

    def at(d, hours=0):
        return datetime(d.year, d.month, d.day, tzinfo=utc) + timedelta(hours=hours)

    entity_df = pd.DataFrame({
        "user_id": ["u1", "u1", "u1", "u2", "u1"],
        "event_timestamp": [at(D2), at(D2, 13), at(D3), at(D2), at(D3 + timedelta(days=1), 1)],
        "rid": [0, 1, 2, 3, 4]})
    got = store.get_historical_features(entity_df=entity_df,
                                        features=["user_features:u_clicks_long",
                                                  "user_features:u_impr_long"]).to_df()
    # (Feast's dask store drops entity rows whose only matches are outside the ttl: "no value")
    by_rid = {int(r["rid"]): r for r in got.to_dict("records")}

    def val(rid, col):
        v = by_rid.get(rid, {}).get(col)
        return None if v is None or pd.isna(v) else float(v)

    # D2 00:00 and 13:00 -> snapshot D1 (u1: 1 click, 2 impressions); D3 00:00 -> snapshot D2;
    # u2 had no history on D1 -> none; 1 day + 1 h after the last snapshot -> past the ttl
    assert [val(i, "u_clicks_long") for i in range(5)] == [1.0, 1.0, 2.0, None, None]
    assert [val(i, "u_impr_long") for i in range(3)] == [2.0, 2.0, 4.0]


def test_connection_strings():
    f = feast_ops.redis_connection_string
    assert f("redis://:s3cret@cache.example:6380/2") == "cache.example:6380,db=2,password=s3cret"
    assert f("rediss://h:6379", tls=False) == "h:6379,ssl=true"
    assert f("unix:///tmp/r.sock") == "localhost:0,unix_socket_path=/tmp/r.sock"
    with pytest.raises(Exception, match="feast needs a Redis server"):
        f(None)


def test_no_redis_url_uses_the_embedded_server(tmp_path):
    """No REDIS_URL on a local lake: Feast gets the same embedded Redis as publish and serving."""
    import redis
    import yaml

    from jobs.serving import redis_conn

    cfg = load_config("test", [f"lake.root={tmp_path / 'lake'}", "redis.url="])
    try:
        conf = yaml.safe_load(feast_ops.render_config(cfg).read_text())
        sock = redis_conn.embedded_paths(cfg).url.removeprefix("unix://")
        assert conf["online_store"]["connection_string"] == f"localhost:0,unix_socket_path={sock}"
        assert redis.Redis(unix_socket_path=sock).ping()
    finally:
        redis_conn.stop_embedded(cfg)
