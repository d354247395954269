"""uvicorn's httptools protocol with one write per response instead of two.

uvicorn writes the status line + headers on ``http.response.start`` and the body on
``http.response.body``: two ``send`` syscalls and two TCP segments per small JSON answer, on
loopback each one running the receiver's TCP path too. Here the protocol's transport is wrapped so
that writes made in one event-loop iteration are joined and leave together at the end of it
(``call_soon``); a close flushes first. Nothing else changes: flow control, keep-alive,
``connection: close`` and shutdown go through to the real transport.

``protocol_class()`` names the class for ``uvicorn.run(http=...)``, or ``"auto"`` when httptools
is not installed (then uvicorn's h11 protocol is used as before).
"""
from __future__ import annotations

import asyncio
from typing import Any


class CorkedTransport:
    """Delegates to ``transport``; ``write`` gathers the chunks of one loop iteration."""

    __slots__ = ("_transport", "_loop", "_chunks", "_scheduled")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._chunks: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._chunks.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._chunks:
            data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            self._chunks.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for c in chunks:
            self.write(c)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(c) for c in self._chunks)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools (or uvicorn): protocol_class() says "auto"
    HttpToolsProtocol = None


if HttpToolsProtocol is not None:
    class CorkedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]


def protocol_class() -> str:
    """What to pass as ``uvicorn.run(http=...)``: an import string (worker processes re-import it)."""
    return "auto" if HttpToolsProtocol is None else "jobs.serving.httpproto:CorkedHttpToolsProtocol"
