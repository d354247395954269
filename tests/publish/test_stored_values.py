"""topk's stored ``serving_value`` column and the publisher's two read paths: lists streamed as
stored (nothing decoded) or encoded from ``items`` (tables written before the column existed).
Real Spark, real Delta tables on disk, a real Redis."""
from __future__ import annotations

import io
import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from jobs.common import columns as C
from jobs.common.delta import Derived, read_table, table_files, write_table_result
from jobs.common.errors import CheckFailed
from jobs.publish import file_bins
from jobs.serving import codec, versions
from jobs.serving import keys as K
from jobs.serving.writer import _prefetch, encode_resp, serving_values, stored_values_usable
from jobs.topk import serving_value
from tests.publish.helpers import catalog_for, dataset, make_cfg, publish, write_catalog, write_topk

D = date(2031, 5, 1)
ITEM_T = pa.struct([("rank", pa.int32()), ("item_id", pa.string()), ("score", pa.float64())])


def _batch(rows, kind="user"):
    return pa.RecordBatch.from_pydict({
        "kind": [kind] * len(rows), C.ENTITY_ID: [r[0] for r in rows],
        C.ITEMS: pa.array([[{"rank": i + 1, "item_id": x, "score": s} for i, (x, s) in enumerate(r[1])]
                           for r in rows], pa.list_(ITEM_T)),
        C.SOURCE: [r[2] for r in rows]})


ROWS = [("u1", [("a", 0.5), ("b", 0.25)], "personalized"), ("q é", [("ü", 1.0)], "query"),
        ("u0", [], "personalized"), ("global", [("c", 2.0), ("a", -1.5), ("d", 0.0)], "fallback")]


def test_stored_values_give_the_same_resp_as_encoding_the_items():
    b = _batch(ROWS)
    (values,) = serving_values(b)
    assert [codec.decode(v) for v in values.to_pylist() if len(v) > 4] == [
        (src, [x for x, _ in items], [s for _, s in items]) for _, items, src in ROWS if items]
    stored = pa.RecordBatch.from_arrays([b.column("kind"), b.column(C.ENTITY_ID), values],
                                        names=["kind", C.ENTITY_ID, C.SERVING_VALUE])
    resp_items, stats_items = encode_resp(b, "20310501-abc123")
    resp_stored, stats_stored = encode_resp(stored, "20310501-abc123")
    assert resp_stored.to_pylist() == resp_items.to_pylist() and len(resp_items) == 3  # u0 empty
    assert stats_stored == stats_items == {"user": [3, sum(len(v) for v in values.to_pylist()) - 4, 3]}


@pytest.mark.parametrize("rows, match", [
    ([("u1", [("a", 0.5)], "popular")], "unknown list source"),
    ([("u1", [("a\x1fb", 0.5)], "personalized")], "0x1F"),
    ([("u1", [("", 0.5)], "personalized")], "non-empty"),
])
def test_serving_values_refuse_what_the_lookup_could_not_decode(rows, match):
    with pytest.raises(codec.CodecError, match=match):
        serving_values(_batch(rows))


def test_stored_values_usable_is_judged_from_the_footer():
    b = _batch(ROWS[:2])
    (values,) = serving_values(b)

    def pf(table):
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return pq.ParquetFile(io.BytesIO(buf.getvalue()))

    base = pa.table({c: b.column(c) for c in (C.ENTITY_ID, C.ITEMS, C.SOURCE)})
    assert stored_values_usable(pf(base.append_column(C.SERVING_VALUE, values)))
    assert not stored_values_usable(pf(base))  # a partition written before the column existed
    nulls = pa.array([None, None], pa.binary())
    assert not stored_values_usable(pf(base.append_column(C.SERVING_VALUE, nulls)))
    other = pa.array([bytes([codec.FORMAT + 1]) + v[1:] for v in values.to_pylist()], pa.binary())
    assert not stored_values_usable(pf(base.append_column(C.SERVING_VALUE, other)))  # another codec


def test_prefetch_hands_over_errors_and_stops_its_thread():
    def items():
        yield 1
        yield 2
        raise OSError("file vanished")

    got = []
    with pytest.raises(OSError, match="file vanished"):
        for x in _prefetch(items()):
            got.append(x)
    assert got == [1, 2]
    produced = []

    def endless():
        for i in range(10**9):
            produced.append(i)
            yield i

    gen = _prefetch(endless(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()  # the consumer stops: so does the reading thread
    n = len(produced)
    time.sleep(0.3)
    assert n <= 3 + 2 + 2 and len(produced) == n  # at most depth + in-flight ahead, then nothing


def test_file_bins_balance_bytes():
    from jobs.common.delta import TableFiles

    files = {"user": TableFiles("u", {}, 1, ["u1", "u2", "u3", "u4"], [400, 300, 200, 100]),
             "query": TableFiles("q", {}, 1, ["q1"], [500]), "item": TableFiles("i", {}, 1, ["i1"], [])}
    bins = file_bins(files, 2)
    size = {"u1": 400, "u2": 300, "u3": 200, "u4": 100, "q1": 500, "i1": 300}  # no size: the mean
    assert sorted(p for b in bins for _, p in b) == sorted(size)
    loads = sorted(sum(size[p] for _, p in b) for b in bins)
    assert loads == [900, 900]
    assert len(file_bins(files, 16)) == 6 and file_bins({}, 2) == []


@pytest.fixture(scope="module")
def lakes(tmp_root, spark, redis_server):
    """The same lists three times: as older tables (no serving_value), as topk writes them, and
    with a stored value that differs from items (every list reversed)."""
    data = {D: dataset("s")}
    out = {}

    def reversed_values(batch: pa.RecordBatch) -> list[pa.Array]:
        rows = batch.to_pylist()
        for r in rows:
            r[C.ITEMS] = r[C.ITEMS][::-1]
        return serving_values(pa.RecordBatch.from_pylist(rows, schema=batch.schema))

    for name, derived in (("plain", None), ("stored", serving_value()),
                          ("diverged", Derived(serving_value().fields, reversed_values))):
        cfg = make_cfg(tmp_root / f"stored-{name}", redis_server, "publish.keep_versions=5",
                       "publish.verify_sample=50")
        write_catalog(spark, cfg, catalog_for(["s"]))
        write_topk(spark, cfg, data, derived=derived)
        out[name] = cfg
    redis.Redis.from_url(redis_server).flushall()
    return out, redis.Redis.from_url(redis_server)


def test_topk_writes_the_value_uncompressed_and_readers_see_the_contract(lakes, spark):
    cfgs, _ = lakes
    df = read_table(spark, cfgs["stored"], "topk_user", filters=[(C.RUN_DATE, "=", D)])
    assert df.columns[-1] == C.SERVING_VALUE
    assert df.schema[C.SERVING_VALUE].dataType.simpleString() == "binary"
    for row in df.collect():
        want = sorted(row[C.ITEMS], key=lambda x: x[C.RANK])
        source, ids, scores = codec.decode(bytes(row[C.SERVING_VALUE]))
        assert (source, ids) == (row[C.SOURCE], [x[C.ITEM_ID] for x in want])
        assert scores == pytest.approx([x[C.SCORE] for x in want], rel=1e-6)
    tf = table_files(cfgs["stored"], "topk_user", filters=[(C.RUN_DATE, "=", D)])
    with tf.open(tf.paths[0]) as fh:
        md = pq.ParquetFile(fh).metadata
        cols = {md.row_group(0).column(i).path_in_schema: md.row_group(0).column(i)
                for i in range(md.num_columns)}
    value = cols.pop(C.SERVING_VALUE)
    assert value.compression == "UNCOMPRESSED" and {c.compression for c in cols.values()} == {"SNAPPY"}
    # its values back to back (no dictionary, no PLAIN); the other columns keep pyarrow's defaults
    assert "DELTA_LENGTH_BYTE_ARRAY" in value.encodings and "PLAIN_DICTIONARY" not in value.encodings
    assert "RLE_DICTIONARY" in cols[C.SOURCE].encodings
    assert all(tf.sizes) and len(tf.sizes) == len(tf.paths)
    with pytest.raises(ValueError, match="already in the data"):
        write_table_result(df, cfgs["stored"], "topk_user", mode="replace", derived=serving_value())


def test_other_readers_get_the_same_stored_bytes(lakes, spark):
    """DELTA_LENGTH_BYTE_ARRAY is a Parquet v2 encoding: Spark's reader, delta-rs, Polars and
    DuckDB (on the table's current files) must all return the very bytes the writer stored."""
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    from jobs.common.tables import table_path

    cfg = lakes[0]["stored"]
    path = table_path(cfg, "topk_user")
    rows = read_table(spark, cfg, "topk_user", filters=[(C.RUN_DATE, "=", D)]).collect()
    want = {r[C.ENTITY_ID]: bytes(r[C.SERVING_VALUE]) for r in rows}
    assert len(want) == 6 and all(codec.decode(v)[0] == "personalized" for v in want.values())
    rs = DeltaTable(path).to_pyarrow_table(columns=[C.ENTITY_ID, C.SERVING_VALUE]).to_pylist()
    pol = pl.read_delta(path).select(C.ENTITY_ID, C.SERVING_VALUE).to_dicts()
    tf = table_files(cfg, "topk_user", filters=[(C.RUN_DATE, "=", D)])
    files = ", ".join(f"'{path}/{p}'" for p in tf.paths)
    duck = duckdb.sql(f"select {C.ENTITY_ID}, {C.SERVING_VALUE} from read_parquet([{files}])").fetchall()
    for name, got in (("delta-rs", {r[C.ENTITY_ID]: r[C.SERVING_VALUE] for r in rs}),
                      ("polars", {r[C.ENTITY_ID]: r[C.SERVING_VALUE] for r in pol}),
                      ("duckdb", {e: bytes(v) for e, v in duck})):
        assert got == want, name


def test_publish_streams_stored_values_byte_for_byte(lakes, spark):
    cfgs, r = lakes
    rec_plain = publish(cfgs["plain"], spark, D)
    rec_stored = publish(cfgs["stored"], spark, D)
    v_plain, v_stored = rec_plain.counts["version"], rec_stored.counts["version"]
    assert versions.current(r) == v_stored and rec_stored.counts["verified_sample"] == 12
    n = 0
    for kind, lists in dataset("s").items():
        for ent in lists:
            a, b = r.get(K.list_key(v_plain, kind, ent)), r.get(K.list_key(v_stored, kind, ent))
            assert a is not None and a == b, (kind, ent)
            n += 1
    assert n == 12
    jvm_cpu = 0.0
    for rec in (rec_plain, rec_stored):
        tasks = rec.info["write"]["_timing"]["tasks"]
        assert sum(t["lists"] for t in tasks) == 12 and all(t["send_s"] >= 0 for t in tasks)
        # who used the CPU while the lists were written: every writer task, the JVM, Redis
        cpu = rec.info["write"]["_timing"]["cpu_s"]
        assert set(cpu) == {"driver_jvm", "redis"} and all("cpu_s" in t for t in tasks)
        assert cpu["redis"] >= 0 and all(t["cpu_s"] >= 0 for t in tasks)
        jvm_cpu += cpu["driver_jvm"]
    assert jvm_cpu > 0  # two Spark jobs cannot run on no JVM CPU: the /proc reading is real


def test_a_stored_value_that_differs_from_items_is_caught_and_never_served(lakes, spark):
    cfgs, r = lakes
    before = versions.current(r)
    with pytest.raises(CheckFailed, match="sampled lists wrong"):
        publish(cfgs["diverged"], spark, D)
    assert versions.current(r) == before  # no flip: readers keep the previous version
    assert all(versions.meta(r, v)["status"] == "ready" for v in versions.history(r))


def test_compacted_tables_still_stream_their_stored_values(lakes, spark):
    """`ranklake maintain --compact` rewrites the files with delta-rs (zstd, its own statistics):
    the footer check still accepts them and publish gives the same bytes as before."""
    from jobs.common.delta import compact

    cfgs, r = lakes
    cfg = cfgs["stored"]
    before = versions.current(r)
    for table in ("topk_user", "topk_query", "topk_item", "topk_fallback"):
        compact(cfg, table)
        tf = table_files(cfg, table, filters=[(C.RUN_DATE, "=", D)])
        for rel in tf.paths:
            with tf.open(rel) as fh:
                assert stored_values_usable(pq.ParquetFile(fh)), (table, rel)
    rec = publish(cfg, spark, D)
    v = rec.counts["version"]
    for kind, lists in dataset("s").items():
        for ent in lists:
            assert r.get(K.list_key(v, kind, ent)) == r.get(K.list_key(before, kind, ent)), (kind, ent)
