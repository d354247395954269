"""Versioned publish, pointer flip, verification, concurrent readers, rollback, kill -9 mid-way,
cleanup — the real Spark publish against a real Redis. Tests run in order on one Redis."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
import redis

from jobs.common.errors import DataError
from jobs.serving import codec, versions
from jobs.serving import keys as K
from jobs.serving.lookup import LookupClient
from jobs.serving.redis_conn import RedisParams
from tests.publish.helpers import catalog_for, dataset, make_cfg, publish, write_catalog, write_topk

D1, D2, D3, BAD = date(2031, 3, 1), date(2031, 3, 2), date(2031, 3, 3), date(2031, 3, 9)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def env(tmp_root, spark, redis_server):
    cfg = make_cfg(tmp_root / "publish-lake", redis_server, "publish.keep_versions=2")
    redis.Redis.from_url(redis_server).flushall()
    write_catalog(spark, cfg, catalog_for(["a", "b", "c"], out_of_stock=["a03"]))
    bad = dataset("a")
    bad["user"] = {**bad["user"], None: [("a01", 0.5)]}  # duplicates: test_publish_transforms
    write_topk(spark, cfg, {D1: dataset("a"), D2: dataset("b"), D3: dataset("c"), BAD: bad})
    return cfg, redis.Redis.from_url(redis_server), redis_server


def test_publish_writes_a_version_and_flips_the_pointer(env, spark):
    cfg, r, url = env
    rec = publish(cfg, spark, D1)
    v1 = STATE["v1"] = rec.counts["version"]
    assert K.is_version(v1) and v1.startswith("20310301-")
    assert versions.current(r) == v1 and versions.history(r) == [v1]
    assert versions.count_keys(r, v1) == {"user": 6, "query": 2, "item": 2, "fallback": 2}
    # the value decodes to exactly the table's list (ids, order, scores incl. the tie, source)
    source, ids, scores = codec.decode(r.get(K.list_key(v1, "user", "u1")))
    want = dataset("a")["user"]["u1"]
    assert (source, ids) == ("personalized", [x for x, _ in want])
    assert scores == pytest.approx([s for _, s in want], rel=1e-6)
    meta = versions.meta(r, v1)
    assert meta["status"] == "ready" and meta["run_date"] == "2031-03-01"
    assert meta["counts"] == {"user": 6, "query": 2, "item": 2, "fallback": 2}
    assert meta["model_versions"]["user"] == "m1" and meta["k"]["user"] == 12
    # catalog of the same version: in-stock set (+ sentinel), categories, category leaves
    assert not r.sismember(K.instock_key(v1), "a03") and r.sismember(K.instock_key(v1), "a04")
    assert r.scard(K.instock_key(v1)) == 3 * 16 - 1 + 1 + 1
    assert r.hget(K.itemcat_key(v1), "a05") == b"fashion/shoes/sneakers"
    assert r.hget(K.catleaf_key(v1), "sneakers") == b"fashion/shoes/sneakers"
    assert rec.counts["verified_sample"] == 12
    assert rec.info["write"]["user"] == {"keys": 6, "bytes": 6 * 99, "max_len": 12}
    res = LookupClient(RedisParams(url)).recommend("u1", k=3)
    assert res.list_version == v1 and [i.item_id for i in res.items] == ["a01", "a02", "a04"]


def test_readers_during_publish_then_rollback(env, spark):
    cfg, r, url = env
    v1 = STATE["v1"]
    seen: list[tuple[str, set[str]]] = []
    bad: list[object] = []
    stop = threading.Event()

    def reader() -> None:
        client = LookupClient(RedisParams(url, socket_timeout_s=5))
        while not stop.is_set():
            try:
                res = client.recommend("u0", k=10)
                if res.source != "personalized" or len(res.items) != 10:
                    bad.append(res)
                seen.append((res.list_version, {i.item_id[0] for i in res.items}))
            except Exception as exc:
                bad.append(exc)
            time.sleep(0.001)

    t = threading.Thread(target=reader)
    t.start()
    try:
        v2 = STATE["v2"] = publish(cfg, spark, D2).counts["version"]
        time.sleep(0.2)
    finally:
        stop.set()
        t.join()
    assert not bad, bad[:3]
    assert {v for v, _ in seen} == {v1, v2}  # saw both, each response one version
    assert all(items == ({"a"} if v == v1 else {"b"}) for v, items in seen)
    assert versions.current(r) == v2 and versions.history(r) == [v2, v1]
    # rollback: instant, to the previous version, whose keys are still there
    rec = publish(cfg, spark, D2, rollback=True)
    assert rec.info == {"rolled_back_from": v2, "current": v1}
    client = LookupClient(RedisParams(url))
    assert versions.current(r) == v1 and client.recommend("u0").items[0].item_id == "a00"
    with pytest.raises(versions.RollbackError, match="no earlier version"):
        publish(cfg, spark, D2, rollback=True)


def test_publish_killed_midway_keeps_old_version_and_is_cleaned_up(env, spark, tmp_root):
    cfg, r, url = env
    v1, v2 = STATE["v1"], STATE["v2"]
    cmd = [sys.executable, "-m", "jobs.publish", "--env", "test", "--run-date", D3.isoformat(),
           "--conf", f"lake.root={cfg.lake.root}", "--conf", f"redis.url={url}",
           "--conf", "publish.batch_size=1", "--conf", "publish.batch_sleep_s=0.5"]
    log = open(tmp_root / "killed-publish.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=log, stderr=log)
    partial = None
    try:
        deadline = time.monotonic() + 400  # a JVM start on a busy 2-core box can take minutes
        while partial is None and time.monotonic() < deadline and proc.poll() is None:
            for v in versions.registered(r):
                if v.startswith("20310303-") and sum(versions.count_keys(r, v).values()) >= 2:
                    partial = v
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the driver, its JVM and python workers
        proc.wait(30)
    log.close()
    assert partial is not None, "publish never started writing: " + (
        tmp_root / "killed-publish.log").read_text()[-3000:]
    time.sleep(0.5)
    # the old version is still served; the partial one is registered, not ready, never current
    assert versions.current(r) == v1
    assert LookupClient(RedisParams(url)).recommend("u0").list_version == v1
    assert versions.meta(r, partial)["status"] == "writing"
    assert 2 <= sum(versions.count_keys(r, partial).values()) < 12
    # the rolled-back v2 (neither current nor in the history) went at the start of the killed run;
    # the next publish takes over the dead holder's lock and cleans the partial keys up
    assert v2 not in versions.registered(r)
    rec = publish(cfg, spark, D3)
    v3 = rec.counts["version"]
    assert rec.counts["partial_versions_removed"] == 1
    assert versions.current(r) == v3 and versions.history(r) == [v3, v1]
    for gone in (partial, v2):
        assert list(r.scan_iter(match=K.version_prefix(gone) + "*")) == []
    # keep_versions=2: one more publish drops v1 entirely
    v4 = publish(cfg, spark, D1).counts["version"]
    assert versions.history(r) == [v4, v3] and versions.registered(r) == [v3, v4]
    assert list(r.scan_iter(match=K.version_prefix(v1) + "*")) == []
    assert r.get(K.LOCK) is None


def test_bad_tables_are_refused_and_nothing_changes(env, spark):
    cfg, r, _ = env
    before = versions.current(r), versions.registered(r)
    with pytest.raises(DataError, match="topk_user: 1 rows with null_entity$"):
        publish(cfg, spark, BAD)
    assert (versions.current(r), versions.registered(r)) == before
    assert r.get(K.LOCK) is None
