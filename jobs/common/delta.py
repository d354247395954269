"""The one Delta Lake reader and writer.

Writing: Spark computes; every task writes its own Parquet data files straight into the table
directory (``mapInArrow`` + pyarrow, hive-style ``col=value/`` folders, partition columns not stored
in the files, as the Delta spec expects); the driver gathers only the file list (one small row per
file) and commits **one** transaction with delta-rs. Until that commit nothing is visible:

* a process killed mid-write leaves orphan files that no version references (``vacuum`` removes
  them) and the previous version intact;
* a task that failed and was retried wrote files under a new name; only the files reported by the
  attempt Spark kept are committed, so a retry never duplicates rows;
* two writers racing on the same table: delta-rs detects the conflict and the loser gets
  ``ConcurrentWriteError``; nothing is corrupted.

Tables stay at protocol reader 1 / writer 2: timestamps are written as UTC micros (``timestamp``),
never TimestampNTZ, and no table features are enabled.

Reading: the driver asks delta-rs for the file list of a version (time travel) after partition
pruning; Spark then reads the files, either with its own Parquet reader (``native``; local paths,
and ``s3://`` on EMR) or with pyarrow inside tasks (``arrow``; any filesystem pyarrow reaches, e.g.
S3 without hadoop-aws). Nothing is collected onto the driver but the file list.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import pyarrow as pa

from jobs.common.config import is_remote
from jobs.common.errors import ConcurrentWriteError, DataError
from jobs.common.log import get_logger
from jobs.common.tables import spec, table_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from jobs.common.config import Settings

log = get_logger("delta")
FAULT = os.environ.get("RANKLAKE_DELTA_FAULT", "")
MAX_ROWS_PER_FILE = int(os.environ.get("RANKLAKE_DELTA_MAX_ROWS_PER_FILE", "2000000"))
FILE_SCHEMA = pa.schema([("path", pa.string()), ("size", pa.int64()),
                         ("partition_values", pa.string()), ("num_records", pa.int64()),
                         ("stats", pa.string())])
Filter = tuple[str, str, Any]


# --------------------------------------------------------------------------- helpers
def storage_options(cfg: Settings) -> dict[str, str]:
    """delta-rs/object-store options: config values plus AWS settings from the environment."""
    opts = dict(cfg.lake.storage_options)
    for var in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_ALLOW_HTTP", "AWS_S3_ALLOW_UNSAFE_RENAME"):
        if os.environ.get(var):
            opts.setdefault(var, os.environ[var])
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts.setdefault("AWS_ALLOW_HTTP", "true")
    return opts


def _uri(cfg: Settings, name: str) -> str:
    path = table_path(cfg, name)
    return path if is_remote(path) else os.path.abspath(path.removeprefix("file://"))


def _filesystem(uri: str, opts: dict[str, str]) -> tuple[Any, str]:
    """pyarrow filesystem + path for a local path or s3:// URI (used inside tasks)."""
    from pyarrow import fs

    if uri.startswith("s3://"):
        kw: dict[str, Any] = {}
        if opts.get("AWS_ENDPOINT_URL"):
            kw["endpoint_override"] = opts["AWS_ENDPOINT_URL"]
            kw["scheme"] = "http" if opts["AWS_ENDPOINT_URL"].startswith("http://") else "https"
        if opts.get("AWS_REGION"):
            kw["region"] = opts["AWS_REGION"]
        if opts.get("AWS_ACCESS_KEY_ID"):
            kw["access_key"] = opts["AWS_ACCESS_KEY_ID"]
            kw["secret_key"] = opts.get("AWS_SECRET_ACCESS_KEY")
            kw["session_token"] = opts.get("AWS_SESSION_TOKEN")
        return fs.S3FileSystem(**kw), uri.removeprefix("s3://")
    return fs.LocalFileSystem(), uri


def _pv_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _utc_arrow_schema(schema: StructType) -> pa.Schema:
    """Spark schema -> arrow schema with every timestamp as UTC micros (never NTZ)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    def fix(t: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(t):
            return pa.timestamp("us", tz="UTC")
        if pa.types.is_list(t):
            return pa.list_(pa.field(t.value_field.name, fix(t.value_type), True))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, fix(f.type), f.nullable) for f in t])
        if pa.types.is_map(t):
            return pa.map_(fix(t.key_type), fix(t.item_type))
        return t

    arrow = to_arrow_schema(schema)
    return pa.schema([pa.field(f.name, fix(f.type), f.nullable) for f in arrow])


def _stats(table: pa.Table) -> str:
    """Delta file statistics. min/max only for numbers and dates, whose values are exact;
    strings and timestamps get counts only (a truncated max would make readers skip wrongly)."""
    import pyarrow.compute as pc

    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_nested(t):
            continue
        nulls[name] = col.null_count
        if col.null_count == len(col) or not (
                pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_date(t)):
            continue
        mm = pc.min_max(col)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if isinstance(lo, float) and (lo != lo or hi != hi):  # NaN: no bounds
            continue
        mins[name], maxs[name] = (_pv_string(lo), _pv_string(hi)) if pa.types.is_date(t) else (lo, hi)
    return json.dumps({"numRecords": table.num_rows, "minValues": mins, "maxValues": maxs,
                       "nullCount": nulls})


@dataclass(frozen=True)
class Derived:
    """Columns computed by the writer tasks from each batch just before it is written (no
    extra pass over the data): ``fn(batch)`` returns one array per field of ``fields``."""
    fields: tuple[pa.Field, ...]
    fn: Callable[[pa.RecordBatch], Sequence[pa.Array]]
    uncompressed: bool = False  # store them without snappy (e.g. values read far more than written)
    # a Parquet encoding for them instead of dictionary-then-PLAIN, e.g. DELTA_LENGTH_BYTE_ARRAY for
    # large binary values read in bulk: all lengths, then one contiguous block of bytes
    encoding: str | None = None


def _leaf_paths(schema: pa.Schema) -> list[str]:
    import pyarrow.parquet as pq

    buf = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), buf)  # the leaf paths exactly as the writer names them
    md = pq.read_metadata(pa.BufferReader(buf.getvalue()))
    return [md.schema.column(i).path for i in range(md.num_columns)]


def parquet_options(schema: pa.Schema, derived: Derived | None = None) -> dict[str, Any]:
    """pyarrow.parquet.write_table options: snappy and dictionary encoding (pyarrow's defaults)
    everywhere, except the leaves of ``derived``'s columns: no compression if it says
    ``uncompressed``, its ``encoding`` (and no dictionary) if it names one."""
    if derived is None or not (derived.uncompressed or derived.encoding):
        return {"compression": "snappy"}
    own = {f.name for f in derived.fields}
    paths = _leaf_paths(schema)
    mine = [p for p in paths if p.split(".", 1)[0] in own]
    opts: dict[str, Any] = {"compression": {p: "none" if p in mine and derived.uncompressed
                                            else "snappy" for p in paths}}
    if derived.encoding:
        opts["use_dictionary"] = [p for p in paths if p not in mine]
        opts["column_encoding"] = {p: derived.encoding for p in mine}
    return opts


# --------------------------------------------------------------------------- task side
def _file_writer(root: str, opts: dict[str, str], data_schema: pa.Schema,
                 partition_by: Sequence[str], write_id: str, derived: Derived | None = None):
    """Builds the function each Spark task runs over its Arrow batches."""

    def write_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq
        from pyspark import TaskContext

        ctx = TaskContext.get()
        task = f"{ctx.partitionId():05d}-{ctx.attemptNumber()}" if ctx else "00000-0"
        fs, base = _filesystem(root, opts)
        buffers: dict[tuple, list[pa.Table]] = {}
        buffered: dict[tuple, int] = {}
        out: list[dict[str, Any]] = []
        seq = [0]
        options = parquet_options(data_schema, derived)

        def flush(key: tuple) -> None:
            parts = buffers.pop(key, [])
            buffered.pop(key, None)
            if not parts:
                return
            tbl = pa.concat_tables(parts).cast(data_schema)
            pvals = dict(zip(partition_by, key))
            sub = "/".join(f"{c}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}"
                           for c, v in pvals.items())
            seq[0] += 1
            name = f"part-{task}-{seq[0]:04d}-{write_id}.snappy.parquet"
            rel = f"{sub}/{name}" if sub else name
            full = f"{base}/{rel}"
            if sub:
                fs.create_dir(f"{base}/{sub}", recursive=True)
            pq.write_table(tbl, full, filesystem=fs, **options,
                           coerce_timestamps="us", allow_truncated_timestamps=False)
            size = fs.get_file_info(full).size
            out.append({"path": rel, "size": size, "partition_values": json.dumps(pvals),
                        "num_records": tbl.num_rows, "stats": _stats(tbl)})
            # fault injection for the retry test: fail partition 0's first attempt after it has
            # written a file, so the test can show those files never reach the commit
            if (FAULT == "fail_first_attempt_after_file" and ctx is not None
                    and ctx.partitionId() == 0 and ctx.attemptNumber() == 0):
                raise RuntimeError("injected writer failure (RANKLAKE_DELTA_FAULT)")

        for batch in batches:
            if batch.num_rows == 0:
                continue
            if derived is not None:
                extra = derived.fn(batch)
                batch = pa.RecordBatch.from_arrays(
                    [*batch.columns, *extra], names=[*batch.schema.names, *(f.name for f in derived.fields)])
            tbl = pa.Table.from_batches([batch])
            if partition_by:
                keys = pa.Table.from_arrays(
                    [pa.array([_pv_string(v) for v in tbl.column(c).to_pylist()], pa.string())
                     for c in partition_by], names=list(partition_by))
                groups = keys.group_by(list(partition_by), use_threads=False).aggregate([])
                import pyarrow.compute as pc
                for row in groups.to_pylist():
                    mask = None
                    for c in partition_by:
                        m = (pc.is_null(keys.column(c)) if row[c] is None
                             else pc.equal(keys.column(c), row[c]))
                        m = pc.fill_null(m, False)
                        mask = m if mask is None else pc.and_(mask, m)
                    key = tuple(row[c] for c in partition_by)
                    piece = tbl.filter(mask).drop_columns(list(partition_by))
                    buffers.setdefault(key, []).append(piece)
                    buffered[key] = buffered.get(key, 0) + piece.num_rows
                    if buffered[key] >= MAX_ROWS_PER_FILE:
                        flush(key)
            else:
                buffers.setdefault((), []).append(tbl)
                buffered[()] = buffered.get((), 0) + tbl.num_rows
                if buffered[()] >= MAX_ROWS_PER_FILE:
                    flush(())
        for key in list(buffers):
            flush(key)
        if out:
            yield pa.RecordBatch.from_pylist(out, schema=FILE_SCHEMA)

    return write_partition


# --------------------------------------------------------------------------- driver side
@dataclass(frozen=True)
class WriteResult:
    version: int
    files: int
    rows: int


def _delta_table(uri: str, opts: dict[str, str], version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(uri, version=version, storage_options=opts or None)


def table_exists(cfg: Settings, name: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(_uri(cfg, name), storage_options=storage_options(cfg) or None)


def table_version(cfg: Settings, name: str) -> int | None:
    if not table_exists(cfg, name):
        return None
    return _delta_table(_uri(cfg, name), storage_options(cfg)).version()


def write_table(df: DataFrame, cfg: Settings, name: str, mode: str = "overwrite",
                partitions: dict[str, Sequence[Any]] | None = None,
                metadata: dict[str, Any] | None = None) -> int:
    """Write ``df`` to table ``name`` in one Delta transaction; return the committed version.

    mode: ``overwrite`` (whole table), ``append``, or ``replace`` (only the partition values in
    ``partitions``, or those present in ``df`` when it is None; other partitions stay).
    """
    return write_table_result(df, cfg, name, mode, partitions, metadata).version


def write_table_result(df: DataFrame, cfg: Settings, name: str, mode: str = "overwrite",
                       partitions: dict[str, Sequence[Any]] | None = None,
                       metadata: dict[str, Any] | None = None,
                       derived: Derived | None = None) -> WriteResult:
    return stage_write(df, cfg, name, mode, partitions, metadata, derived).commit()


@dataclass
class StagedWrite:
    """Data files written by the tasks, not yet visible: ``commit()`` makes them one version."""

    cfg: Settings
    name: str
    mode: str
    table: Any  # DeltaTable at the read version, or None for a new table
    schema: pa.Schema
    part_by: list[str]
    adds: list[Any]
    rows: int
    filters: list[Filter] | None
    metadata: dict[str, Any]
    started: float

    def commit(self) -> WriteResult:
        from deltalake.transaction import CommitProperties, create_table_with_add_actions

        uri, opts = _uri(self.cfg, self.name), storage_options(self.cfg)
        if self.table is not None and self.mode == "replace" and self.filters is None:
            log.info("%s: nothing to replace and no rows; table unchanged", self.name)
            return WriteResult(self.table.version(), 0, 0)
        commit = CommitProperties(custom_metadata={"ranklake": json.dumps(self.metadata),
                                                   "ranklake.rows": self.rows})
        try:
            if self.table is None:
                create_table_with_add_actions(uri, _delta_schema(self.schema), self.adds,
                                              mode="error", partition_by=self.part_by or None,
                                              name=self.name, storage_options=opts or None,
                                              commit_properties=commit)
            else:
                self.table.create_write_transaction(
                    self.adds, "append" if self.mode == "append" else "overwrite",
                    _delta_schema(self.schema), partition_by=self.part_by or None,
                    partition_filters=self.filters, commit_properties=commit)
        except Exception as exc:  # delta-rs raises several types for a lost race
            text = f"{type(exc).__name__}: {exc}"
            if any(s in text for s in ("Concurrent", "concurrent", "onflict", "already exists",
                                       "CommitFailed", "Version mismatch", "exists")):
                raise ConcurrentWriteError(
                    f"table '{self.name}': another writer committed first "
                    f"({text.splitlines()[0][:200]}); this write was not committed, rerun it"
                ) from None
            raise
        version = _delta_table(uri, opts).version()
        log.info("%s: committed version %d (%s, %d rows, %d files, %.1fs)", self.name, version,
                 self.mode, self.rows, len(self.adds), time.monotonic() - self.started)
        return WriteResult(version, len(self.adds), self.rows)


def stage_write(df: DataFrame, cfg: Settings, name: str, mode: str = "overwrite",
                partitions: dict[str, Sequence[Any]] | None = None,
                metadata: dict[str, Any] | None = None, derived: Derived | None = None
                ) -> StagedWrite:
    """Run the Spark job that writes the data files; nothing is visible until ``commit()``.
    ``derived``: columns the writer tasks add to every batch (appended after ``df``'s)."""
    from deltalake.transaction import AddAction

    if mode not in ("overwrite", "append", "replace"):
        raise ValueError(f"write mode must be overwrite, append or replace, not {mode!r}")
    tspec = spec(name)
    part_by = list(tspec.partition_by)
    missing = [c for c in part_by if c not in df.columns]
    if missing:
        raise DataError(f"table '{name}': partition column(s) {missing} missing from the data")
    if mode == "replace" and not part_by:
        raise ValueError(f"table '{name}' has no partition columns; use overwrite")
    uri, opts = _uri(cfg, name), storage_options(cfg)
    # the read version is fixed before any file is written: a commit by someone else after this
    # point is a conflict for delta-rs to detect at commit time
    table = _delta_table(uri, opts) if table_exists(cfg, name) else None
    full_schema = _utc_arrow_schema(df.schema)
    if derived is not None:
        clash = [f.name for f in derived.fields if f.name in df.columns]
        if clash:
            raise ValueError(f"table '{name}': derived column(s) {clash} already in the data")
        full_schema = pa.schema([*full_schema, *derived.fields])
    data_schema = pa.schema([f for f in full_schema if f.name not in part_by])
    if not is_remote(uri):
        os.makedirs(uri, exist_ok=True)
    t0 = time.monotonic()
    files_df = df.mapInArrow(_file_writer(uri, opts, data_schema, part_by, uuid.uuid4().hex[:12],
                                          derived),
                             schema="path string, size long, partition_values string, "
                                    "num_records long, stats string")
    files = files_df.collect()  # one row per data file: bounded by files, not by rows
    now_ms = int(time.time() * 1000)
    adds = [AddAction(r["path"], r["size"], json.loads(r["partition_values"]), now_ms, True,
                      r["stats"]) for r in files]
    filters: list[Filter] | None = None
    if mode == "replace":
        values = partitions or {c: sorted({json.loads(r["partition_values"])[c] for r in files},
                                          key=str) for c in part_by}
        filters = [(c, "in", [_pv_string(v) for v in vals]) for c, vals in values.items()]
        if table is not None and any(not f[2] for f in filters):
            filters = None  # no partition named and no rows: nothing to replace
        elif table is None:
            filters = None
    return StagedWrite(cfg, name, mode, table, full_schema, part_by, adds,
                       sum(r["num_records"] for r in files), filters, metadata or {}, t0)


def _delta_schema(arrow_schema: pa.Schema):
    from deltalake import Schema

    return Schema.from_arrow(arrow_schema)


def _spark_schema(table) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(pa.schema(table.schema().to_arrow()))


def read_table(spark: SparkSession, cfg: Settings, name: str, version: int | None = None,
               filters: Sequence[Filter] | None = None, columns: Sequence[str] | None = None,
               reader: str | None = None) -> DataFrame:
    """Read table ``name`` (latest or ``version``) with partition ``filters`` into Spark."""
    uri, opts = _uri(cfg, name), storage_options(cfg)
    if not table_exists(cfg, name):
        raise DataError(f"table '{name}' does not exist at {uri}; run the stage that writes it")
    table = _delta_table(uri, opts, version)
    schema = _spark_schema(table)
    paths, pvals, keep, _ = _matching_files(table, name, filters)
    reader = reader or os.environ.get("RANKLAKE_DELTA_READER") or (
        "native" if not uri.startswith("s3://") or cfg.spark.master is None else "arrow")
    if not keep:
        df = spark.createDataFrame([], schema)
    elif reader == "native":
        files = [f"{uri}/{paths[i]}" for i in keep]
        base = uri if is_remote(uri) else f"file://{uri}"
        files = files if is_remote(uri) else [f"file://{f}" for f in files]
        df = (spark.read.schema(schema).option("basePath", base)
              .option("mergeSchema", "false").parquet(*files))
    else:
        df = _arrow_read(spark, uri, opts, schema, [(paths[i], pvals[i]) for i in keep])
    df = df.select(*[c for c in schema.fieldNames()])
    return df.select(*columns) if columns else df


def _matching_files(table: Any, name: str, filters: Sequence[Filter] | None
                    ) -> tuple[list[str], list[dict[str, Any]], list[int], list[int]]:
    """Relative paths, partition values and sizes (bytes) of every file of ``table``, and the
    indexes of those the partition ``filters`` keep."""
    part_by = list(table.metadata().partition_columns)
    flt = [(c, op, _pv_string(v) if not isinstance(v, (list, tuple)) else [_pv_string(x) for x in v])
           for c, op, v in (filters or [])]
    bad = [c for c, _, _ in flt if c not in part_by]
    if bad:
        raise ValueError(f"table '{name}': filters must be on partition columns {part_by}, got {bad}")
    adds_tbl = pa.table(table.get_add_actions(flatten=True))
    paths = adds_tbl.column("path").to_pylist()
    pvals = [{c: _pv_string(adds_tbl.column(f"partition.{c}")[i].as_py()) for c in part_by}
             for i in range(len(paths))]
    keep = [i for i in range(len(paths)) if all(_match(pvals[i].get(c), op, v) for c, op, v in flt)]
    return paths, pvals, keep, adds_tbl.column("size_bytes").to_pylist()


@dataclass(frozen=True)
class TableFiles:
    """The data files of one table version, for tasks that read Parquet themselves (pyarrow,
    no JVM round trip): open ``f"{base}/{path}"`` on ``filesystem(uri, opts)``."""
    uri: str
    opts: dict[str, str]
    version: int
    paths: list[str]
    sizes: list[int] = field(default_factory=list)  # bytes, as paths (from the Delta log)

    def open(self, rel: str) -> Any:
        fs, base = _filesystem(self.uri, self.opts)
        return fs.open_input_file(f"{base}/{rel}")


def table_files(cfg: Settings, name: str, version: int | None = None,
                filters: Sequence[Filter] | None = None) -> TableFiles:
    """The files of table ``name`` (latest or ``version``) that the partition ``filters`` keep.
    Partition columns are not in the files (read them from the filter)."""
    uri, opts = _uri(cfg, name), storage_options(cfg)
    if not table_exists(cfg, name):
        raise DataError(f"table '{name}' does not exist at {uri}; run the stage that writes it")
    table = _delta_table(uri, opts, version)
    paths, _, keep, sizes = _matching_files(table, name, filters)
    return TableFiles(uri, opts, table.version(), [paths[i] for i in keep], [sizes[i] for i in keep])


def _match(value: Any, op: str, target: Any) -> bool:
    if op in ("=", "=="):
        return value == target
    if op == "!=":
        return value != target
    if op == "in":
        return value in target
    if op == "not in":
        return value not in target
    if op in ("<", "<=", ">", ">="):
        return value is not None and {"<": value < target, "<=": value <= target,
                                      ">": value > target, ">=": value >= target}[op]
    raise ValueError(f"unsupported filter operator {op!r}")


def _arrow_read(spark: SparkSession, uri: str, opts: dict[str, str], schema: StructType,
                files: list[tuple[str, dict[str, Any]]]) -> DataFrame:
    """Spark reads the files with pyarrow inside tasks (e.g. S3 without hadoop-aws)."""
    arrow_schema = _utc_arrow_schema(schema)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        fs, base = _filesystem(uri, opts)
        for batch in batches:
            for rel, pv in zip(batch.column("path").to_pylist(),
                               batch.column("pv").to_pylist()):
                values = json.loads(pv)
                pf = pq.ParquetFile(fs.open_input_file(f"{base}/{rel}"))
                for rb in pf.iter_batches(batch_size=65536):
                    t = pa.Table.from_batches([rb])
                    cols = []
                    for f in arrow_schema:
                        if f.name in values:
                            raw = values[f.name]
                            arr = pa.array([raw] * t.num_rows, pa.string())
                            cols.append(arr.cast(f.type) if raw is not None
                                        else pa.nulls(t.num_rows, f.type))
                        else:
                            cols.append(t.column(f.name).cast(f.type))
                    yield from pa.Table.from_arrays(cols, schema=arrow_schema).to_batches()

    rows = [(p, json.dumps(v)) for p, v in files]
    slices = max(1, min(len(rows), spark.sparkContext.defaultParallelism * 2))
    listing = spark.createDataFrame(rows, "path string, pv string").repartition(slices)
    return listing.mapInArrow(read, schema)


# --------------------------------------------------------------------------- maintenance
def vacuum(cfg: Settings, name: str, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
    """Delete files that no version within ``retention_hours`` references, including orphans left
    by killed writers (``full``). The retention window also protects files a running writer has
    staged but not yet committed, so keep it above the longest write."""
    table = _delta_table(_uri(cfg, name), storage_options(cfg))
    return list(table.vacuum(retention_hours=retention_hours, dry_run=dry_run,
                             enforce_retention_duration=False, full=True))


def compact(cfg: Settings, name: str, target_size: int = 128 * 1024 * 1024) -> dict[str, Any]:
    """Rewrite small files into larger ones (a new version with the same rows)."""
    table = _delta_table(_uri(cfg, name), storage_options(cfg))
    return dict(table.optimize.compact(target_size=target_size))


def history(cfg: Settings, name: str, limit: int | None = None) -> list[dict[str, Any]]:
    return list(_delta_table(_uri(cfg, name), storage_options(cfg)).history(limit))
