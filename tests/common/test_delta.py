"""Delta IO against real Spark and real Delta tables on disk, read back by four engines."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.common import delta
from jobs.common.errors import ConcurrentWriteError, DataError
from jobs.common.tables import table_path

REPO = Path(__file__).resolve().parents[2]
T = "topk_user"  # partitioned by run_date
D1, D2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def _lists(spark, n: int, run_date: dt.date, tag: str = "m1"):
    return spark.range(n).select(
        F.format_string("u%04d", "id").alias("entity_id"),
        F.array(F.struct(F.lit(1).alias("rank"), F.format_string("i%d", F.col("id") % 7)
                         .alias("item_id"), (F.col("id") / 3.0).alias("score"))).alias("items"),
        F.when(F.col("id") % 5 == 0, F.lit(None)).otherwise(F.lit("personalized")).alias("source"),
        F.lit(tag).alias("model_version"),
        F.lit(run_date).alias("run_date"),
        F.to_timestamp(F.lit("2026-11-20 10:11:12.123456")).alias("generated_at"))


def _fresh(cfg, name=T):
    import shutil

    shutil.rmtree(table_path(cfg, name), ignore_errors=True)


def _files_on_disk(cfg, name=T) -> set[str]:
    root = Path(table_path(cfg, name))
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")}


def _files_in_log(cfg, name=T) -> set[str]:
    from deltalake import DeltaTable

    return set(DeltaTable(table_path(cfg, name)).get_add_actions(flatten=True).column("path")
               .to_pylist())


def _entity_ids(tf, rel: str) -> list[str]:
    import pyarrow.parquet as pq

    with tf.open(rel) as fh:
        return pq.ParquetFile(fh).read(columns=["entity_id"]).column("entity_id").to_pylist()


def test_modes_versions_time_travel_and_partition_replace(spark, cfg):
    _fresh(cfg)
    a = _lists(spark, 40, D1).unionByName(_lists(spark, 30, D2))
    assert delta.write_table(a, cfg, T, "overwrite") == 0
    assertDataFrameEqual(delta.read_table(spark, cfg, T), a)

    b = _lists(spark, 5, D2, tag="m2")
    assert delta.write_table(b, cfg, T, "append") == 1
    assert delta.read_table(spark, cfg, T).count() == 75

    # replace one date: D1 untouched, D2 becomes exactly c
    c = _lists(spark, 3, D2, tag="m3")
    assert delta.write_table(c, cfg, T, "replace", partitions={"run_date": [D2]}) == 2
    now = delta.read_table(spark, cfg, T)
    assertDataFrameEqual(now.where(F.col("run_date") == D2), c)
    assertDataFrameEqual(now.where(F.col("run_date") == D1), a.where(F.col("run_date") == D1))

    # replace with partitions inferred from the data
    d = _lists(spark, 4, D1, tag="m4")
    assert delta.write_table(d, cfg, T, "replace") == 3
    assertDataFrameEqual(delta.read_table(spark, cfg, T, filters=[("run_date", "=", D1)]), d)
    assertDataFrameEqual(delta.read_table(spark, cfg, T, filters=[("run_date", "=", D2)]), c)

    # an empty frame replacing a named date clears that date only
    assert delta.write_table(d.limit(0), cfg, T, "replace", partitions={"run_date": [D1]}) == 4
    assert delta.read_table(spark, cfg, T).count() == 3

    # time travel: every version still readable as it was
    assertDataFrameEqual(delta.read_table(spark, cfg, T, version=0), a)
    assert delta.read_table(spark, cfg, T, version=1).count() == 75
    assert delta.table_version(cfg, T) == 4
    assert [h["operation"] for h in delta.history(cfg, T)][:1] == ["WRITE"]
    # the files tasks read themselves (publish): same version, same partition filter, same rows
    for version, run_date, want in ((0, D2, 30), (1, D2, 35), (2, D2, 3), (4, D1, 0), (None, D2, 3)):
        tf = delta.table_files(cfg, T, version=version, filters=[("run_date", "=", run_date)])
        assert tf.version == (4 if version is None else version)
        ids = sorted(e for rel in tf.paths for e in _entity_ids(tf, rel))
        assert len(ids) == want
        ref = delta.read_table(spark, cfg, T, version=tf.version, filters=[("run_date", "=", run_date)])
        assert ids == sorted(r["entity_id"] for r in ref.select("entity_id").collect())
    with pytest.raises(ValueError, match="partition columns"):
        delta.table_files(cfg, T, filters=[("source", "=", "x")])

    # overwrite replaces the whole table
    assert delta.write_table(b, cfg, T, "overwrite") == 5
    assertDataFrameEqual(delta.read_table(spark, cfg, T), b)


def test_protocol_and_utc_micro_timestamps(spark, cfg):
    from deltalake import DeltaTable

    _fresh(cfg)
    delta.write_table(_lists(spark, 3, D1), cfg, T, "overwrite")
    table = DeltaTable(table_path(cfg, T))
    proto = table.protocol()
    assert (proto.min_reader_version, proto.min_writer_version) == (1, 2)
    assert not proto.writer_features and not proto.reader_features
    log = Path(table_path(cfg, T), "_delta_log", "00000000000000000000.json").read_text()
    meta = next(json.loads(x)["metaData"] for x in log.splitlines() if '"metaData"' in x)
    types = {f["name"]: f["type"] for f in json.loads(meta["schemaString"])["fields"]}
    assert types["generated_at"] == "timestamp" and types["run_date"] == "date"
    assert "timestamp_ntz" not in log.lower()
    ts = delta.read_table(spark, cfg, T).select("generated_at").first()[0]
    assert ts == dt.datetime(2026, 11, 20, 10, 11, 12, 123456)  # session tz is UTC
    assert ts.microsecond == 123456


def test_four_engines_read_equal_contents(spark, cfg):
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    _fresh(cfg)
    src = _lists(spark, 50, D1).unionByName(_lists(spark, 20, D2))
    delta.write_table(src, cfg, T, "overwrite")
    delta.write_table(_lists(spark, 7, D2, "m9"), cfg, T, "replace", partitions={"run_date": [D2]})
    path = table_path(cfg, T)
    key = ["run_date", "entity_id"]
    native = delta.read_table(spark, cfg, T, reader="native").toPandas()
    arrow = delta.read_table(spark, cfg, T, reader="arrow").toPandas()
    rs = DeltaTable(path).to_pandas()
    pol = pl.read_delta(path).to_pandas()
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{_duckdb_delta_extension()}'")
    duck = con.sql(f"select * from delta_scan('{path}')").df()

    def norm(pdf):
        out = pdf[["run_date", "entity_id", "source", "model_version"]].copy()
        out["run_date"] = out["run_date"].astype(str).str[:10]
        out["first_item"] = [x[0]["item_id"] for x in pdf["items"]]
        out["first_score"] = [float(x[0]["score"]) for x in pdf["items"]]
        return out.sort_values(key).reset_index(drop=True)

    expected = norm(native)
    assert len(expected) == 57
    for other in (arrow, rs, pol, duck):
        import pandas.testing as pdt

        pdt.assert_frame_equal(norm(other), expected, check_dtype=False)


def _duckdb_delta_extension() -> str:
    import duckdb
    import duckdb_ext

    base = Path(list(duckdb_ext.__path__)[0])
    return str(base / "extensions" / f"v{duckdb.__version__}" / "linux_amd64" / "delta.duckdb_extension")


def test_bad_writes_are_clear_errors(spark, cfg):
    _fresh(cfg)
    with pytest.raises(DataError, match=r"partition column\(s\) \['run_date'\] missing"):
        delta.write_table(_lists(spark, 2, D1).drop("run_date"), cfg, T)
    with pytest.raises(ValueError, match="no partition columns; use overwrite"):
        delta.write_table(spark.range(2), cfg, "raw_catalog", "replace")
    with pytest.raises(DataError, match="table 'topk_item' does not exist"):
        delta.read_table(spark, cfg, "topk_item")
    delta.write_table(_lists(spark, 2, D1), cfg, T)
    with pytest.raises(ValueError, match="filters must be on partition columns"):
        delta.read_table(spark, cfg, T, filters=[("entity_id", "=", "u0001")])


def test_concurrent_writers_loser_gets_clear_error(spark, cfg):
    _fresh(cfg)
    delta.write_table(_lists(spark, 10, D1), cfg, T)
    first = delta.stage_write(_lists(spark, 4, D1, "A"), cfg, T, "replace")
    second = delta.stage_write(_lists(spark, 6, D1, "B"), cfg, T, "replace")
    assert first.commit().version == 1
    with pytest.raises(ConcurrentWriteError, match="another writer committed first"):
        second.commit()
    got = delta.read_table(spark, cfg, T)
    assertDataFrameEqual(got, _lists(spark, 4, D1, "A"))
    assert delta.table_version(cfg, T) == 1


def _run_script(code: str, env: dict[str, str], cwd: Path, wait: bool = True):
    script = cwd / f"script_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(code))
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script)], env=full_env, cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if wait:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        return out
    return proc


PRELUDE = """
ITEMS_TYPE = "array<struct<rank:int,item_id:string,score:double>>"
import os, time
from jobs.common.config import load_config
from jobs.common.spark import get_spark
from jobs.common import delta
from pyspark.sql import functions as F
cfg = load_config("test", ["spark.master=%s", "spark.shuffle_partitions=2"])
spark = get_spark(cfg)
"""


def test_kill_9_mid_write_leaves_previous_version(spark, cfg, tmp_root):
    _fresh(cfg)
    base = _lists(spark, 20, D1)
    delta.write_table(base, cfg, T)
    before_files = _files_on_disk(cfg)
    code = PRELUDE % "local[2]" + """
def slow(batches):
    from pyspark import TaskContext
    pid = TaskContext.get().partitionId()
    for b in batches:
        yield b
    if pid != 0:
        time.sleep(600)  # partition 0 writes its file and finishes; the others hang
df = (spark.range(0, 2000, numPartitions=4)
      .select(F.format_string("x%d", "id").alias("entity_id"), F.lit(None).cast(ITEMS_TYPE).alias("items"),
              F.lit("query").alias("source"), F.lit("killed").alias("model_version"),
              F.to_date(F.lit("2026-11-19")).alias("run_date"), F.current_timestamp().alias("generated_at")))
df = df.mapInArrow(slow, df.schema)
delta.write_table(df, cfg, "topk_user", "overwrite")
print("COMMITTED")
"""
    proc = _run_script(code, {}, tmp_root, wait=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (_files_on_disk(cfg) - before_files):
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.3)
    assert _files_on_disk(cfg) - before_files, "the killed writer never wrote a data file"
    proc.kill()  # SIGKILL of the driver process mid-write
    proc.wait(timeout=30)
    assert delta.table_version(cfg, T) == 0
    assertDataFrameEqual(delta.read_table(spark, cfg, T), base)
    orphans = _files_on_disk(cfg) - _files_in_log(cfg)
    assert orphans  # written but never committed ...
    removed = delta.vacuum(cfg, T, retention_hours=0)
    assert set(removed) >= orphans  # ... and vacuum removes them
    assertDataFrameEqual(delta.read_table(spark, cfg, T), base)


def test_retried_task_does_not_duplicate_rows(cfg, tmp_root):
    _fresh(cfg, "topk_item")
    code = PRELUDE % "local[2,3]" + """
spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
df = (spark.range(0, 1000, numPartitions=2)
      .select(F.format_string("x%04d", "id").alias("entity_id"), F.lit(None).cast(ITEMS_TYPE).alias("items"),
              F.lit("query").alias("source"), F.lit("retry").alias("model_version"),
              F.to_date(F.lit("2026-11-19")).alias("run_date"), F.current_timestamp().alias("generated_at")))
r = delta.write_table_result(df, cfg, "topk_item", "overwrite")
out = delta.read_table(spark, cfg, "topk_item")
print("RESULT", r.rows, out.count(), out.select("entity_id").distinct().count())
"""
    env = {"RANKLAKE_DELTA_MAX_ROWS_PER_FILE": "100",
           "RANKLAKE_DELTA_FAULT": "fail_first_attempt_after_file",
           "RANKLAKE_HOME": os.environ["RANKLAKE_HOME"]}
    out = _run_script(code, env, tmp_root)
    assert "injected writer failure" in out  # the first attempt really failed
    line = [x for x in out.splitlines() if x.startswith("RESULT")][0]
    assert line.split()[1:] == ["1000", "1000", "1000"]
    on_disk, in_log = _files_on_disk(cfg, "topk_item"), _files_in_log(cfg, "topk_item")
    assert in_log < on_disk  # the failed attempt's files exist but are not committed
    # committed files of partition 0 all come from its second attempt (file names carry
    # part-<partition>-<attempt>-...)
    assert not any(p.split("/")[-1].startswith("part-00000-0-") for p in in_log)
    assert any(p.split("/")[-1].startswith("part-00000-0-") for p in on_disk - in_log)


def test_vacuum_and_compact_keep_contents(spark, cfg):
    _fresh(cfg)
    for i in range(4):
        delta.write_table(_lists(spark, 10, D1, f"m{i}").repartition(2), cfg, T,
                          "append" if i else "overwrite")
    expected = delta.read_table(spark, cfg, T).toPandas().sort_values(["model_version", "entity_id"])
    files_before = len(_files_in_log(cfg))
    metrics = delta.compact(cfg, T)
    assert metrics["numFilesRemoved"] >= 2 and len(_files_in_log(cfg)) < files_before
    removed = delta.vacuum(cfg, T, retention_hours=0)
    assert removed and _files_on_disk(cfg) == _files_in_log(cfg)
    got = delta.read_table(spark, cfg, T).toPandas().sort_values(["model_version", "entity_id"])
    assert json.dumps(got.astype(str).values.tolist()) == json.dumps(expected.astype(str).values.tolist())
