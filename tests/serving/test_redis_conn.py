"""The embedded, daemonised redis-server: started once, reused by other processes, stopped;
and the packed list codec."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from jobs.common.config import load_config
from jobs.serving import codec
from jobs.serving.redis_conn import _pid, client, embedded_paths, params_from_config, stop_embedded

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_embedded_server_outlives_its_starter_and_stops(tmp_path):
    overrides = [f"lake.root={tmp_path}", "redis.url="]
    cfg = load_config("test", overrides)
    e = embedded_paths(cfg)
    assert e.dbfile == (tmp_path / "_redis" / "ranklake.db").resolve()
    try:
        # a separate process starts it and exits; the server keeps running (daemonised)
        conf = [x for o in overrides for x in ("--conf", o)]
        out = subprocess.run([sys.executable, "-m", "jobs.serving.redis_conn", "start", "--env", "test",
                              *conf], cwd=ROOT, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"unix://{e.socket}"
        pid = _pid(e)
        assert pid is not None
        params = params_from_config(cfg)  # reuses it: same server, same pid
        assert params.url == f"unix://{e.socket}" and _pid(e) == pid
        client(params).set("k", "v")
        status = subprocess.run([sys.executable, "-m", "jobs.serving.redis_conn", "status", "--env",
                                 "test", *conf], cwd=ROOT, capture_output=True, text=True)
        assert status.returncode == 0 and status.stdout.startswith("up unix://")
        assert redis.Redis.from_url(params.url).get("k") == b"v"
    finally:
        assert stop_embedded(cfg)
    assert _pid(e) is None and not stop_embedded(cfg)
    assert (tmp_path / "_redis" / "ranklake.db").exists()  # saved on shutdown


def test_redis_url_and_tls_come_from_config(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("REDIS_PASSWORD", "pw")
    cfg = load_config("test", ["redis.tls=true"])
    p = params_from_config(cfg)
    assert (p.url, p.password, p.socket_timeout_s) == ("rediss://cache.internal:6380/2", "pw", 0.5)
    assert p.safe_url() == "rediss://cache.internal:6380/2"


def test_codec_round_trip_and_errors():
    ids, scores = ["a", "ü-2", "c c"], [0.5, 0.5, -1.25]  # a tie, unicode, a space
    blob = codec.encode(ids, scores, "query")
    assert len(blob) == 4 + 12 + len("a\x1fü-2\x1fc c".encode())
    assert codec.decode(blob) == ("query", ids, scores)
    assert codec.decode(codec.encode([], [], "fallback")) == ("fallback", [], [])
    with pytest.raises(codec.CodecError, match="0x1F"):
        codec.encode(["a\x1fb"], [1.0], "query")
    with pytest.raises(codec.CodecError, match="unknown list source"):
        codec.encode(["a"], [1.0], "popular")
    with pytest.raises(codec.CodecError, match="2 item ids but 1 scores"):
        codec.encode(["a", "b"], [1.0], "query")
    with pytest.raises(codec.CodecError, match="value says"):
        codec.decode(blob[:-4])
