"""Reading real input files for ``ranklake import``: CSV / Parquet / JSON Lines -> typed Arrow.

Files are streamed in batches (memory bounded by the batch, not the file) and every problem is a
one-line ``DataError`` naming the file, the line (CSV: the header is line 1; JSONL: line 1 is the
first record; Parquet: "row N") or the column, and what is wrong. Conversion rules:

* columns are renamed target <- source by the mapping; a target whose source is absent is
  missing (an error if required, null otherwise);
* ids and texts become strings (movielens ``userId`` 1 -> "1");
* timestamps: ``timestamp_format`` null = ISO-8601 text (no zone = UTC), ``epoch_s`` /
  ``epoch_ms`` / ``epoch_us`` = numbers, anything else = a strptime pattern (UTC);
* ``explode`` names a list-of-struct column (OTTO's ``events``): one output row per element, the
  struct fields become columns and the parent's other columns repeat.
"""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from jobs.common.errors import DataError

FORMATS = ("csv", "parquet", "jsonl")
_EXT = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
        ".ndjson": "jsonl", ".json": "jsonl"}
BATCH_BYTES = 16 << 20
EPOCH_UNITS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}


@dataclass(frozen=True)
class Field:
    target: str
    kind: str  # string | int | float | timestamp | bool
    required: bool = False


def list_files(path: str, fmt: str | None) -> list[tuple[str, str]]:
    """(file, format) for a file or every data file of a directory (sorted, hidden files skipped)."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or directory")
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, f) for root, _, names in os.walk(path) for f in names
        if not f.startswith((".", "_")))
    if not files:
        raise DataError(f"{path}: directory has no data files")
    out = []
    for f in files:
        kind = fmt or _EXT.get(os.path.splitext(f)[1].lower())
        if kind not in FORMATS:
            shown = fmt or os.path.splitext(f)[1] or "(no extension)"
            raise DataError(f"{f}: unknown format '{shown}': expected one of {', '.join(FORMATS)} "
                            "(use --format)")
        out.append((f, kind))
    return out


# ----------------------------------------------------------------------------- raw batches
def _csv_header(path: str, delimiter: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        first = fh.readline()
    if not first.strip():
        raise DataError(f"{path}: file is empty (expected a header line)")
    return next(csv.reader([first], delimiter=delimiter))


def _csv_bad_line(path: str, delimiter: str, width: int) -> tuple[int, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
            if row and len(row) != width:
                return n, f"expected {width} columns, got {len(row)}"
    return 0, ""


def _batches(path: str, fmt: str, delimiter: str) -> Iterator[tuple[pa.Table, int]]:
    """(batch, number of the first row of the batch, 0-based) for a file."""
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: file is empty")
    start = 0
    if fmt == "csv":
        names = _csv_header(path, delimiter)
        try:
            reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=BATCH_BYTES),
                                   parse_options=pcsv.ParseOptions(delimiter=delimiter),
                                   convert_options=pcsv.ConvertOptions(
                                       column_types={n: pa.string() for n in names},
                                       strings_can_be_null=False))
            for b in reader:
                yield pa.Table.from_batches([b]), start
                start += b.num_rows
        except pa.ArrowInvalid as exc:
            line, what = _csv_bad_line(path, delimiter, len(names))
            where = f"line {line}: " if line else ""
            raise DataError(f"{path}: {where}malformed CSV: {what or str(exc).splitlines()[0]}") from None
        if start == 0:
            raise DataError(f"{path}: file has a header but no rows")
    elif fmt == "jsonl":
        try:
            t = pjson.read_json(path, read_options=pjson.ReadOptions(block_size=BATCH_BYTES))
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: {_json_problem(path, str(exc))}") from None
        if t.num_rows == 0:
            raise DataError(f"{path}: file has no records")
        for b in t.to_batches(max_chunksize=200_000):
            yield pa.Table.from_batches([b]), start
            start += b.num_rows
    else:
        try:
            pf = pq.ParquetFile(path)
            for b in pf.iter_batches(batch_size=200_000):
                yield pa.Table.from_batches([b]), start
                start += b.num_rows
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
        if start == 0:
            raise DataError(f"{path}: file has no rows")


def _json_problem(path: str, arrow_msg: str) -> str:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                return f"line {n}: malformed JSON: {exc.msg} at column {exc.colno}"
    m = re.search(r"in row (\d+)", arrow_msg)
    text = arrow_msg.splitlines()[0].replace("JSON parse error: ", "")
    if m:
        text = re.sub(r" in row \d+", "", text)
        return f"line {int(m.group(1)) + 1}: malformed JSON: {text}"
    return f"malformed JSON: {text}"


def _explode(t: pa.Table, col: str, path: str) -> pa.Table:
    if col not in t.column_names:
        raise DataError(f"{path}: explode column '{col}' not found; columns are: {', '.join(t.column_names)}")
    arr = t.column(col).combine_chunks()
    if not (pa.types.is_list(arr.type) and pa.types.is_struct(arr.type.value_type)):
        raise DataError(f"{path}: column '{col}' is {arr.type}, expected a list of records to explode")
    parents = pc.list_parent_indices(arr)
    flat = pc.list_flatten(arr)
    cols = {n: t.column(n).take(parents) for n in t.column_names if n != col}
    for i, f in enumerate(flat.type):
        cols[f.name] = flat.field(i)
    return pa.table(cols)


# ----------------------------------------------------------------------------- conversions
def _where(fmt: str, row: int) -> str:
    return f"row {row + 1}" if fmt == "parquet" else f"line {row + (2 if fmt == 'csv' else 1)}"


def _first_bad(arr: pa.Array, convert) -> int:  # noqa: ANN001
    for i in range(len(arr)):
        if not arr[i].is_valid:
            continue
        try:
            convert(arr.slice(i, 1))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
            return i
    return 0


def _to_ts(arr: pa.Array, fmt: str | None) -> pa.Array:
    utc = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(arr.type):
        return arr.cast(pa.timestamp("us", tz=arr.type.tz)).cast(utc) if arr.type.tz else \
            arr.cast(pa.timestamp("us")).cast(utc)
    if pa.types.is_string(arr.type):
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if fmt in EPOCH_UNITS:
        num = arr.cast(pa.float64())
        us = pc.round(pc.multiply(num, float(EPOCH_UNITS[fmt]))).cast(pa.int64())
        return us.cast(utc)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise ValueError(f"numbers need import.timestamp_format: {', '.join(EPOCH_UNITS)}")
    if fmt:
        return pc.strptime(arr, format=fmt, unit="us", error_is_null=False).cast(utc)
    # ISO-8601: a value without a zone is UTC; a date alone is its midnight
    day_only = pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}$")
    zoned = pc.match_substring_regex(arr, r"(Z|z|[+-]\d\d(:?\d\d)?)$")
    arr = pc.if_else(day_only, pc.binary_join_element_wise(arr, "T00:00:00Z", ""),
                     pc.if_else(zoned, arr, pc.binary_join_element_wise(arr, "Z", "")))
    return arr.cast(utc)


def _convert(arr: pa.Array, kind: str, fmt: str | None) -> pa.Array:
    if kind == "string":  # an empty text is an absent value
        if pa.types.is_floating(arr.type):  # 1.0 -> "1" for ids that came as floats
            arr = arr.cast(pa.int64())
        arr = arr.cast(pa.string())
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if kind == "timestamp":
        return _to_ts(arr, fmt)
    if pa.types.is_string(arr.type):
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if kind == "int":
        if pa.types.is_string(arr.type):  # "3" and "3.0" are integers, "3.5" is not
            arr = arr.cast(pa.float64())
        return arr.cast(pa.int32())
    if kind == "float":
        return arr.cast(pa.float64())
    if kind == "bool":
        if pa.types.is_string(arr.type):
            low = pc.utf8_lower(arr)
            true = pc.is_in(low, pa.array(["true", "1", "yes", "y", "t"]))
            false = pc.is_in(low, pa.array(["false", "0", "no", "n", "f"]))
            bad = pc.and_(pc.is_valid(low), pc.invert(pc.or_(true, false)))
            if pc.any(bad).as_py():
                raise ValueError("not a boolean")
            return pc.if_else(pc.is_null(low), pa.scalar(None, pa.bool_()), true)
        return arr.cast(pa.bool_())
    raise ValueError(f"unknown kind {kind}")


_KIND_TEXT = {"int": "an integer", "float": "a number", "bool": "a boolean (true/false)",
              "timestamp": "a timestamp"}


def read_mapped(path: str, fmt: str, fields: Sequence[Field], columns: dict[str, str], *,
                timestamp_format: str | None = None, explode: str | None = None,
                delimiter: str = ",") -> Iterator[pa.Table]:
    """Typed tables with one column per field (target names; absent optional fields are null)."""
    for t, start in _batches(path, fmt, delimiter):
        if explode:
            t = _explode(t, explode, path)
        if start == 0:
            missing = [(f.target, columns.get(f.target, f.target)) for f in fields
                       if f.required and columns.get(f.target, f.target) not in t.column_names]
            if missing:
                target, src = missing[0]
                named = f"'{src}'" + (f" (mapped to {target})" if src != target else "")
                raise DataError(f"{path}: missing required column {named}; columns are: "
                                f"{', '.join(t.column_names)}")
        out = {}
        for f in fields:
            src = columns.get(f.target, f.target)
            if src not in t.column_names:
                out[f.target] = pa.nulls(t.num_rows, _arrow_type(f.kind))
                continue
            arr = t.column(src).combine_chunks()
            try:
                out[f.target] = _convert(arr, f.kind, timestamp_format)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError) as exc:
                i = _first_bad(arr, lambda a, f=f: _convert(a, f.kind, timestamp_format))
                want = _KIND_TEXT.get(f.kind, f.kind)
                if f.kind == "timestamp":
                    want += f" ({timestamp_format or 'ISO-8601'})"
                hint = f": {exc}" if "timestamp_format" in str(exc) else ""
                raise DataError(f"{path}: {_where(fmt, start + i)}, column '{src}': cannot parse "
                                f"{arr[i].as_py()!r} as {want}{hint}") from None
        yield pa.table(out)


def _arrow_type(kind: str) -> pa.DataType:
    return {"string": pa.string(), "int": pa.int32(), "float": pa.float64(), "bool": pa.bool_(),
            "timestamp": pa.timestamp("us", tz="UTC")}[kind]
