"""The packed value of one list (one Redis STRING per entity).

    byte 0      format (1)
    byte 1      source code: 0 personalized, 1 query, 2 fallback
    bytes 2-3   n, big-endian uint16
    4n bytes    scores, big-endian float32, in rank order
    rest        item ids, UTF-8, joined by 0x1F (unit separator); rank = position (1-based)

Why this and not JSON / a hash / a sorted set (figures in benchmarks/publish_lookup.py and the
issue report): it is the smallest (float32 scores, no field names, one key per entity so Redis
overhead is paid once), SET/GET are the cheapest commands, decoding is two ``split``s and a
``struct.unpack``, and the lookup Lua script can find the item ids (for the in-stock filter) with
one ``gmatch``. A sorted set would re-order ties by member name and costs ~3x the memory; a hash
loses order. float32 keeps ~7 significant digits: scores only order a list, the order is stored.
"""
from __future__ import annotations

import struct
from typing import Sequence

FORMAT = 1
SOURCES = ("personalized", "query", "fallback")
SOURCE_CODES = {s: i for i, s in enumerate(SOURCES)}
SEP = b"\x1f"
HEADER = struct.Struct(">BBH")
MAX_ITEMS = 65535


class CodecError(ValueError):
    pass


def encode(item_ids: Sequence[str], scores: Sequence[float], source: str) -> bytes:
    n = len(item_ids)
    if n != len(scores):
        raise CodecError(f"{n} item ids but {len(scores)} scores")
    if n > MAX_ITEMS:
        raise CodecError(f"a list holds at most {MAX_ITEMS} items, got {n}")
    if source not in SOURCE_CODES:
        raise CodecError(f"unknown list source {source!r}; expected one of {SOURCES}")
    ids = [i.encode() for i in item_ids]
    if any(not i or SEP in i for i in ids):
        raise CodecError("item ids must be non-empty and must not contain 0x1F")
    return HEADER.pack(FORMAT, SOURCE_CODES[source], n) + struct.pack(f">{n}f", *scores) + SEP.join(ids)


def encode_packed(item_ids: Sequence[str], scores_be_f32: bytes, source_code: int) -> bytes:
    """Fast path for the publisher: scores already packed as big-endian float32 bytes."""
    n = len(item_ids)
    return HEADER.pack(FORMAT, source_code, n) + scores_be_f32 + SEP.join(i.encode() for i in item_ids)


def decode(blob: bytes) -> tuple[str, list[str], list[float]]:
    """-> (source, item ids in rank order, scores)."""
    if len(blob) < HEADER.size:
        raise CodecError("value too short")
    fmt, src, n = HEADER.unpack_from(blob)
    if fmt != FORMAT or src >= len(SOURCES):
        raise CodecError(f"unknown value format {fmt}/{src}")
    end = HEADER.size + 4 * n
    scores = list(struct.unpack_from(f">{n}f", blob, HEADER.size))
    ids = blob[end:].decode().split("\x1f") if n else []
    if len(ids) != n:
        raise CodecError(f"value says {n} items but holds {len(ids)} ids")
    return SOURCES[src], ids, scores
