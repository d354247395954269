"""The P5 load generator (benchmarks/loadgen.py): response parsing on split buffers, the open loop
keeps its schedule and charges a stalled server's delay to latency (no coordinated omission), the
closed loop and the error accounting."""
from __future__ import annotations

import asyncio
import time

from benchmarks import loadgen

BODY = b'{"ok":true}'


def test_parsers_handle_partial_and_back_to_back_replies():
    resp = b"HTTP/1.1 200 OK\r\nserver: x\r\nContent-Length: 11\r\n\r\n" + BODY
    buf = bytearray()
    for i in range(len(resp) - 1):
        buf = bytearray(resp[:i])
        assert loadgen.parse_http(buf) is None
    assert loadgen.parse_http(bytearray(resp + b"HTTP/1.1 503")) == (200, len(resp))
    assert loadgen.parse_resp_bulk(bytearray(b"$3\r\nab")) is None
    assert loadgen.parse_resp_bulk(bytearray(b"$3\r\nabc\r\n$-1\r\n")) == (200, 9)
    assert loadgen.parse_resp_bulk(bytearray(b"$-1\r\n")) == (404, 5)
    assert loadgen.parse_resp_bulk(bytearray(b"-ERR x\r\n")) == (500, 8)
    assert loadgen.resp_get_requests(["k"]) == [b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"]


async def _server(stall_at: float | None, stall_s: float, status: int = 200):
    """A keep-alive HTTP server that answers at once, except that every request arriving in the
    ``stall_s`` after ``stall_at`` (seconds after start) waits until the stall is over."""
    t0 = time.perf_counter()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                now = time.perf_counter() - t0
                if stall_at is not None and stall_at <= now < stall_at + stall_s:
                    await asyncio.sleep(stall_at + stall_s - now)
                writer.write(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n%s" % (status, len(BODY), BODY))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_open_loop_counts_a_stall_as_latency():
    async def main():
        server, port = await _server(stall_at=0.5, stall_s=0.3)
        reqs = loadgen.http_requests("127.0.0.1", ["/a", "/b"])
        res = await loadgen.open_loop(("127.0.0.1", port), reqs, 200, 1.5, connections=4,
                                      max_connections=8)
        server.close()
        return res

    res = loadgen.run(main())
    assert res.errors == 0 and len(res.latencies) == res.scheduled == 300
    # requests scheduled during the 0.3 s stall waited for it, measured from their scheduled time
    assert 0.25 <= max(res.latencies) <= 0.6
    assert res.pct_ms(50) < 50
    assert res.connections <= 8
    assert 180 <= res.rps <= 210


def test_closed_loop_and_errors():
    async def main():
        ok_server, ok_port = await _server(None, 0)
        bad_server, bad_port = await _server(None, 0, status=503)
        reqs = loadgen.http_requests("127.0.0.1", ["/x"])
        ok = await loadgen.closed_loop(("127.0.0.1", ok_port), reqs, 4, 0.5)
        bad = await loadgen.closed_loop(("127.0.0.1", bad_port), reqs, 2, 0.3)
        ok_server.close()
        bad_server.close()
        return ok, bad

    ok, bad = loadgen.run(main())
    assert ok.errors == 0 and len(ok.latencies) > 50 and ok.connections == 4
    assert bad.errors > 10 and not bad.latencies and set(bad.statuses) == {503}
    assert bad.first_error == "status 503"
