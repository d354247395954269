"""The multiplexed, auto-pipelined Redis connection of the lookup hot path (jobs.serving.pipelined)
against real redis-servers: every reply goes to its own command (also with errors, cancelled
callers and many concurrent callers), scripts reload after a flush, auth + db, and a frozen or dead
server fails fast and the connection recovers."""
from __future__ import annotations

import asyncio
import os
import random
import signal
import time

import pytest
import redis

from jobs.serving.pipelined import PipelinedRedis, pack, supports
from jobs.serving.redis_conn import RedisParams
from tests.serving.conftest import OwnRedis


def run(coro):
    return asyncio.run(coro)


def test_pack_and_supported_urls():
    assert pack(["GET", b"k\r\n", 12]) == b"*3\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n$2\r\n12\r\n"
    assert supports("unix:///tmp/x.sock") and supports("redis://127.0.0.1:6379/0")
    assert not supports("rediss://host:6380/0")
    with pytest.raises(ValueError):
        PipelinedRedis(RedisParams("rediss://host:6380/0"))


def test_every_reply_goes_to_its_own_command(redis_url):
    r = redis.Redis.from_url(redis_url)
    values = {f"k{i}": f"v{i}-" + "x" * random.Random(i).randrange(0, 3000) for i in range(300)}
    r.mset(values)
    r.set("text", "not a number")

    async def main() -> tuple[list, list]:
        c = PipelinedRedis(RedisParams(redis_url, socket_timeout_s=5))
        names = [random.Random(7).choice(list(values)) for _ in range(3000)]

        async def one(i: int, name: str):
            if i % 10 == 0:  # interleave commands whose reply is an error
                try:
                    await c.execute("INCR", "text")
                except redis.ResponseError as exc:
                    return ("error", str(exc))
                return ("no error", None)
            return (name, await c.execute("GET", name))

        got = await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
        await c.aclose()
        return names, got

    names, got = run(main())
    for i, (name, (tag, value)) in enumerate(zip(names, got)):
        if i % 10 == 0:
            assert tag == "error" and "not an integer" in value
        else:
            assert (tag, value) == (name, values[name].encode())


def test_cancelled_caller_does_not_shift_replies(redis_url):
    redis.Redis.from_url(redis_url).set("after", "mine")

    async def main():
        c = PipelinedRedis(RedisParams(redis_url, socket_timeout_s=5))
        slow = asyncio.ensure_future(c.execute("BLPOP", "nothing-here", "0.3"))  # blocks the connection
        await asyncio.sleep(0.05)
        nxt = asyncio.ensure_future(c.execute("GET", "after"))  # queued behind it
        slow.cancel()
        value = await nxt
        again = await c.execute("GET", "after")
        await c.aclose()
        return value, again

    assert run(main()) == (b"mine", b"mine")


def test_script_is_reloaded_after_a_flush(redis_url):
    script = "return {KEYS[1], ARGV[1]}"

    async def main():
        c = PipelinedRedis(RedisParams(redis_url))
        first = await c.evalsha(script, ["a"], ["b"])
        await c.execute("SCRIPT", "FLUSH")
        second = await c.evalsha(script, ["c"], [1])
        with pytest.raises(redis.ResponseError):
            await c.evalsha("return redis.error_reply('boom')", [], [])
        await c.aclose()
        return first, second

    assert run(main()) == ([b"a", b"b"], [b"c", b"1"])


def test_password_and_database(tmp_path):
    server = OwnRedis(tmp_path / "redis", password="pw")
    try:
        base = f"redis://:pw@127.0.0.1:{server.port}"
        redis.Redis.from_url(base + "/2").set("where", "db2")

        async def main():
            c = PipelinedRedis(RedisParams(base + "/2"))
            got = await c.execute("GET", "where")
            await c.aclose()
            via_params = PipelinedRedis(RedisParams(f"redis://127.0.0.1:{server.port}/2", password="pw"))
            got2 = await via_params.execute("GET", "where")
            await via_params.aclose()
            wrong = PipelinedRedis(RedisParams(f"redis://:nope@127.0.0.1:{server.port}/2"))
            with pytest.raises(redis.AuthenticationError):
                await wrong.execute("GET", "where")
            return got, got2

        assert run(main()) == (b"db2", b"db2")
    finally:
        server.stop()


def test_frozen_then_dead_server_fails_fast_and_recovers(own_redis):
    redis.Redis.from_url(own_redis.url).set("k", "v")

    async def main():
        c = PipelinedRedis(RedisParams(own_redis.url, socket_timeout_s=0.3))
        assert await c.execute("GET", "k") == b"v"
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            results = await asyncio.gather(*(c.execute("GET", "k") for _ in range(20)),
                                           return_exceptions=True)
            took = time.monotonic() - t0
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        assert all(isinstance(x, redis.TimeoutError) for x in results) and took < 1.0, (results, took)
        assert await c.execute("GET", "k") == b"v"  # a fresh connection
        redis.Redis.from_url(own_redis.url).client_kill_filter(_type="normal")  # drops us
        await asyncio.sleep(0.1)
        assert await c.execute("GET", "k") == b"v"
        own_redis.stop()
        t0 = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            await c.execute("GET", "k")
        assert time.monotonic() - t0 < 1.0
        await c.aclose()

    run(main())
