"""ranklake import: CSV / Parquet / JSONL with column + event-type mappings, idempotent
re-import, and a one-line error (table untouched) for every malformed input."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.common.cli import main
from jobs.common.config import load_config
from jobs.common.delta import read_table, table_version

UTC = timezone.utc
D19 = date(2026, 11, 19)
EV_SCHEMA = ("event_id string, user_id string, session_id string, query string, item_id string, "
             "event_type string, ts timestamp, position int, ingest_date date")


@pytest.fixture(scope="module")
def lake(tmp_root):
    root = tmp_root / "import-lake"
    return root, load_config("test", [f"lake.root={root}"])


def _import(lake, *args: str) -> int:
    return main(["import", "--env", "test", "--conf", f"lake.root={lake[0]}", *args])


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def _csv(path, text: str):
    path.write_text(text)
    return str(path)


CSV_MAPPING = ["--conf", "import.events_columns={user_id: uid, item_id: sku, event_type: kind, ts: when, "
               "position: pos, query: q, session_id: sess, event_id: id}",
               "--conf", "import.event_type_map={orders: purchase, view: impression, CLK: click}"]


def test_csv_with_column_and_event_type_mapping(spark, lake, tmp_path):
    f = _csv(tmp_path / "ev.csv",
             "id,uid,sess,q,sku,kind,when,pos\n"
             "e1,u1,s1,Red Shoes,i1,view,2026-11-19T10:00:00Z,1\n"
             "e2,u1,s1,Red Shoes,i2,view,2026-11-19T10:00:00Z,2\n"  # tie on ts
             "e3,u1,s1,Red Shoes,i1, clk ,2026-11-19 10:00:05,1\n"  # no zone = UTC; odd case
             "e4,u2,s2,,i3,orders,2026-11-20T23:59:59+00:00,\n"  # null query and position
             "e5,u2,s2,,i3,hover,2026-11-20T08:00:00+02:00,\n")  # unmapped type passes through
    assert _import(lake, "--events", f, *CSV_MAPPING) == 0
    expected = [
        Row("e1", "u1", "s1", "Red Shoes", "i1", "impression", _ts("2026-11-19 10:00:00"), 1, D19),
        Row("e2", "u1", "s1", "Red Shoes", "i2", "impression", _ts("2026-11-19 10:00:00"), 2, D19),
        Row("e3", "u1", "s1", "Red Shoes", "i1", "click", _ts("2026-11-19 10:00:05"), 1, date(2026, 11, 19)),
        Row("e4", "u2", "s2", None, "i3", "purchase", _ts("2026-11-20 23:59:59"), None, date(2026, 11, 20)),
        Row("e5", "u2", "s2", None, "i3", "hover", _ts("2026-11-20 06:00:00"), None, date(2026, 11, 20)),
    ]
    assertDataFrameEqual(read_table(spark, lake[1], "raw_events"), spark.createDataFrame(expected, EV_SCHEMA))
    # re-importing the same file is idempotent: a new version with exactly the same rows
    v = table_version(lake[1], "raw_events")
    assert _import(lake, "--events", f, *CSV_MAPPING) == 0
    assert table_version(lake[1], "raw_events") == v + 1
    assert_same = read_table(spark, lake[1], "raw_events")
    assertDataFrameEqual(assert_same, spark.createDataFrame(expected, EV_SCHEMA))


def test_parquet_with_rating_rule_and_derived_sessions(spark, tmp_root, tmp_path):
    root = tmp_root / "import-parquet"
    t0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    pq.write_table(pa.table({"userId": [7, 7, 7, 8, None], "movieId": [1, 2, 3, 1, 4],
                             "rating": [4.0, 3.5, 5.0, None, 2.0],
                             "timestamp": [t0, t0 + 600, t0 + 600 + 1801, t0, t0]}), tmp_path / "r.parquet")
    code = main(["import", "--env", "test", "--conf", f"lake.root={root}",
                 "--events", str(tmp_path / "r.parquet"),
                 "--mapping", "conf/import/movielens.yaml", "--conf", "import.default_event_type=impression",
                 "--ingest-date", "2026-11-20"])
    assert code == 0
    got = read_table(spark, load_config("test", [f"lake.root={root}"]), "raw_events")
    assert got.where("event_id not rlike '^imp-[0-9a-f]{24}$'").count() == 0
    d = date(2026, 11, 20)
    expected = [Row("7", "7-s1", "1", "purchase", _ts("2023-11-14 22:13:20"), d),
                Row("7", "7-s1", "2", "click", _ts("2023-11-14 22:23:20"), d),
                Row("7", "7-s2", "3", "purchase", _ts("2023-11-14 22:53:21"), d),
                Row("8", "8-s1", "1", "impression", _ts("2023-11-14 22:13:20"), d),  # null rating
                Row(None, None, "4", "click", _ts("2023-11-14 22:13:20"), d)]  # null user: kept for validate
    cols = ["user_id", "session_id", "item_id", "event_type", "ts", "ingest_date"]
    assertDataFrameEqual(got.select(*cols), spark.createDataFrame(
        expected, "user_id string, session_id string, item_id string, event_type string, ts timestamp, "
                  "ingest_date date"))


def test_jsonl_nested_events_catalog_and_judgments(spark, tmp_root, tmp_path):
    root = tmp_root / "import-jsonl"
    lines = [{"session": 5, "events": [{"aid": 11, "ts": 1659304800025, "type": "clicks"},
                                       {"aid": 12, "ts": 1659304900000, "type": "orders"}]},
             {"session": 6, "events": [{"aid": 11, "ts": 1659391200000, "type": "carts"}]}]
    (tmp_path / "o.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    cat = _csv(tmp_path / "cat.csv", "movieId,title,genres\n11,Alien (1979),Horror|Sci-Fi\n12,Heat,\n"
                                     "13,Up,Adventure|Animation|Children|Comedy\n")
    jud = _csv(tmp_path / "j.csv", "query,item_id,grade\nred shoes,11,3\nred shoes,12,0\n")
    code = main(["import", "--env", "test", "--conf", f"lake.root={root}",
                 "--mapping", "conf/import/otto.yaml",
                 "--events", str(tmp_path / "o.jsonl"), "--catalog", cat, "--judgments", jud,
                 "--conf", "import.catalog_columns={item_id: movieId, category: genres}",
                 "--conf", "import.category_separator=\"|\""])
    assert code == 0
    cfg = load_config("test", [f"lake.root={root}"])
    ev = read_table(spark, cfg, "raw_events").select("user_id", "session_id", "item_id", "event_type", "ts",
                                                     "ingest_date")
    assertDataFrameEqual(ev, spark.createDataFrame([
        Row("5", "5", "11", "click", datetime(2022, 7, 31, 22, 0, 0, 25000, UTC), date(2022, 7, 31)),
        Row("5", "5", "12", "purchase", datetime(2022, 7, 31, 22, 1, 40, tzinfo=UTC), date(2022, 7, 31)),
        Row("6", "6", "11", "add_to_cart", datetime(2022, 8, 1, 22, 0, tzinfo=UTC), date(2022, 8, 1)),
    ], "user_id string, session_id string, item_id string, event_type string, ts timestamp, "
       "ingest_date date"))
    assertDataFrameEqual(read_table(spark, cfg, "raw_catalog"), spark.createDataFrame([
        Row("11", "Alien (1979)", "Horror/Sci-Fi", None, None, True, None),
        Row("12", "Heat", None, None, None, True, None),
        Row("13", "Up", "Adventure/Animation/Children", None, None, True, None),
    ], "item_id string, title string, category string, brand string, price double, in_stock boolean, "
       "created_at timestamp"))
    assertDataFrameEqual(read_table(spark, cfg, "judgments"), spark.createDataFrame(
        [Row("red shoes", "11", 3), Row("red shoes", "12", 0)], "query string, item_id string, grade int"))


BAD = {
    "missing_column": ("ev.csv", "id,sku,kind,when\ne1,i1,view,2026-11-19T10:00:00Z\n",
                       "{f}: missing required column 'uid' (mapped to user_id); "
                       "columns are: id, sku, kind, when"),
    "bad_timestamp": ("ev.csv", "uid,sku,kind,when\nu1,i1,view,2026-11-19T10:00:00Z\nu1,i2,view,yesterday\n",
                      "{f}: line 3, column 'when': cannot parse 'yesterday' as a timestamp (ISO-8601)"),
    "bad_position": ("ev.csv", "uid,sku,kind,when,pos\nu1,i1,view,2026-11-19T10:00:00Z,first\n",
                     "{f}: line 2, column 'pos': cannot parse 'first' as an integer"),
    "malformed_csv": ("ev.csv", "uid,sku,kind,when\nu1,i1,view,2026-11-19T10:00:00Z\nu1,i2\n",
                      "{f}: line 3: malformed CSV: expected 4 columns, got 2"),
    "malformed_jsonl": ("ev.jsonl",
                        '{"uid": "u1", "sku": "i1", "kind": "view", "when": "2026-11-19T10:00:00Z"}\n'
                                    '{"uid": "u2", "sku": \n',
                        "{f}: line 2: malformed JSON: Expecting value at column 22"),
    "unknown_format": ("ev.xml", "<events/>",
                       "{f}: unknown format '.xml': expected one of csv, parquet, jsonl (use --format)"),
    "empty_file": ("ev.csv", "", "{f}: file is empty"),
    "header_only": ("ev.csv", "uid,sku,kind,when\n", "{f}: file has a header but no rows"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_input_fails_with_one_line_and_leaves_table(spark, lake, tmp_path, capsys, case):
    if table_version(lake[1], "raw_events") is None:  # a previous good version to protect
        good = _csv(tmp_path / "good.csv", "uid,sku,kind,when\nu9,i9,view,2026-11-18T10:00:00Z\n")
        assert _import(lake, "--events", good, *CSV_MAPPING) == 0
    before_v = table_version(lake[1], "raw_events")
    before = read_table(spark, lake[1], "raw_events").collect()
    name, text, message = BAD[case]
    f = _csv(tmp_path / name, text)
    capsys.readouterr()
    assert _import(lake, "--events", f, *CSV_MAPPING) == 2
    err = capsys.readouterr().err
    assert f"ranklake import: error: {message.format(f=f)}\n" in err
    assert table_version(lake[1], "raw_events") == before_v
    assert sorted(read_table(spark, lake[1], "raw_events").collect()) == sorted(before)


def test_bad_judgments_file_commits_nothing_at_all(spark, tmp_root, tmp_path, capsys):
    """events are valid, judgments are not: neither table is written (all checked before commit)."""
    root = tmp_root / "import-atomic"
    ev = _csv(tmp_path / "ev.csv", "uid,sku,kind,when\nu1,i1,view,2026-11-19T10:00:00Z\n")
    jud = _csv(tmp_path / "j.csv", "query,item_id,grade\nred shoes,11,three\n")
    code = main(["import", "--env", "test", "--conf", f"lake.root={root}", "--events", ev, "--judgments", jud,
                 *CSV_MAPPING])
    assert code == 2
    assert f"{jud}: line 2, column 'grade': cannot parse 'three' as an integer" in capsys.readouterr().err
    cfg = load_config("test", [f"lake.root={root}"])
    assert table_version(cfg, "raw_events") is None and table_version(cfg, "judgments") is None


def test_unknown_mapping_key_is_a_config_error(lake, tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text("events_colums: {user_id: uid}\n")
    assert _import(lake, "--events", "nowhere.csv", "--mapping", str(m)) == 2
    assert f"--mapping {m}: unknown config key 'import.events_colums'" in capsys.readouterr().err


def test_movielens_import(spark, shared_datasets, tmp_root):
    root = tmp_root / "import-movielens"
    ml = shared_datasets / "movielens_small"
    code = main(["import", "--env", "test", "--conf", f"lake.root={root}",
                 "--mapping", "conf/import/movielens.yaml",
                 "--events", str(ml / "ratings.csv"), "--catalog", str(ml / "movies.csv"),
                 "--ingest-date", "2026-11-20"])
    assert code == 0
    cfg = load_config("test", [f"lake.root={root}"])
    ev = read_table(spark, cfg, "raw_events")
    counts = {r["event_type"]: r["count"] for r in ev.groupBy("event_type").count().collect()}
    assert counts == {"purchase": 48580, "click": 52256}  # ratings >= 4 / below
    first = ev.where("user_id = '1' and item_id = '1'").collect()
    # Spark returns naive datetimes in the session time zone (UTC)
    assert [(r.ts, r.event_type) for r in first] == [(datetime(2000, 7, 30, 18, 45, 3), "purchase")]
    cat = read_table(spark, cfg, "raw_catalog")
    assert cat.count() == 9742
    assert cat.where("item_id = '1'").first().category == "Adventure/Animation/Children"
