"""The validate job on a real Delta lake: late data, idempotent reruns, reconciliation, catalog,
and batch-check failures that write validation_results before exiting non-zero."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.common import runlog
from jobs.common.cli import main
from jobs.common.config import load_config
from jobs.common.delta import read_table, table_version, write_table
from tests.validate.helpers import CATALOG_SCHEMA, CREATED, D, catalog_df, ev, events_df, ts

D1 = D - timedelta(days=1)
FAST = ["validate.gx_engine=pandas", "validate.gx_input_batch=false"]


def _lake(tmp_root, name, extra=()):
    # these tests are about one day's run: a 1-day ingest window (conf/test.yaml validates 30)
    over = [f"lake.root={tmp_root / name}", "validate.window_days=1", *FAST, *extra]
    return load_config("test", overrides=over), over


def _validate(over, day, *flags):
    argv = ["validate", "--env", "test", "--run-date", day.isoformat(), *flags]
    for o in over:
        argv += ["--conf", o]
    return main(argv)


def _snapshot(spark, cfg, name):
    df = read_table(spark, cfg, name)
    return sorted(tuple(r) for r in df.collect()), df.columns


def test_late_data_and_idempotent_rerun(spark, tmp_root):
    cfg, over = _lake(tmp_root, "val-late", ["validate.min_clean_rate=0.0"])
    write_table(catalog_df(spark), cfg, "raw_catalog")
    day1 = [ev("a1", at=ts(D1, 10), ingest=D1), ev("a2", user="u2", at=ts(D1, 11), ingest=D1),
            ev("bad1", user=None, at=ts(D1, 12), ingest=D1), ev("nts", at=None, ingest=D1)]
    write_table(events_df(spark, day1), cfg, "raw_events")
    assert _validate(over, D1, "--no-docs") == 0
    clean_d1_first = {r.event_id for r in read_table(spark, cfg, "interactions_clean").collect()}
    assert clean_d1_first == {"a1", "a2"}

    day2 = [ev("late", user="u3", at=ts(D1, 20), ingest=D),   # arrives a day late
            ev("b1", at=ts(D, 9)), ev("b1", at=ts(D, 9)),      # exact duplicate: dropped
            ev("bad2", user="u4", at=ts(D, 10), pos=0)]
    write_table(events_df(spark, day2), cfg, "raw_events", mode="append")
    assert _validate(over, D) == 0
    clean = {(r.event_id, r.event_date) for r in read_table(spark, cfg, "interactions_clean").collect()}
    assert clean == {("a1", D1), ("a2", D1), ("late", D1), ("b1", D)}
    quar = {(r.event_id, r.reason, r.event_date, r.run_date)
            for r in read_table(spark, cfg, "interactions_quarantine").collect()}
    assert quar == {("bad1", "null_user_id", D1, D), ("nts", "null_timestamp", D1, D),
                    ("bad2", "bad_position", D, D)}
    rec = runlog.load(cfg, "validate", D)
    c = rec["counts"]
    assert (c["rows_in"], c["clean"], c["quarantined"], c["exact_duplicates"]) == (8, 4, 3, 1)
    assert c["rows_in"] == c["clean"] + c["quarantined"] + c["exact_duplicates"]
    assert rec["info"]["event_dates"] == [D1.isoformat(), D.isoformat()]

    tables = ("interactions_clean", "interactions_quarantine", "validation_results",
              "catalog_clean", "catalog_quarantine")
    before = {t: _snapshot(spark, cfg, t) for t in tables}
    versions = {t: table_version(cfg, t) for t in tables}
    assert _validate(over, D) == 0
    after = {t: _snapshot(spark, cfg, t) for t in tables}
    assert after == before  # row-level identical, every column
    assert all(table_version(cfg, t) == versions[t] + 1 for t in tables)  # really rewritten


def test_failed_checks_write_results_then_exit_3(spark, tmp_root):
    cfg, over = _lake(tmp_root, "val-fail")
    cat = [*[(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in catalog_df(spark).collect()],
           ("i9", "bad", "shoes", "acme", -1.0, True, CREATED)]
    write_table(spark.createDataFrame(cat, CATALOG_SCHEMA), cfg, "raw_catalog")
    # three days of history with 10 clean rows each, then 60 clean + 10 bad rows on D
    hist = [ev(f"h{d}-{k}", user=f"u{k}", at=ts(D - timedelta(days=d), 8), ingest=D - timedelta(days=d))
            for d in (1, 2, 3) for k in range(10)]
    write_table(events_df(spark, hist), cfg, "raw_events")
    assert _validate([*over, "validate.window_days=4"], D - timedelta(days=1), "--no-docs") == 0
    today = [ev(f"d{k}", user=f"u{k}", at=ts(D, 9)) for k in range(60)]
    today += [ev(f"x{k}", user=f"v{k}", item="i9", at=ts(D, 9)) for k in range(10)]
    write_table(events_df(spark, today), cfg, "raw_events", mode="append")
    code = _validate(over, D)
    assert code == 3
    res = {r.check: r for r in read_table(spark, cfg, "validation_results",
                                          filters=[("run_date", "=", D)]).collect()}
    assert res["clean_rate"].status == "failed"
    assert res["clean_rate"].message == ("clean_rate check failed: 85.71% of 70 events clean (60) "
                                         "< min 95.00% (validate.min_clean_rate)")
    vol = res[f"volume[{D}]"]
    assert vol.status == "failed" and vol.message.startswith(
        f"volume check failed (spike) for event_date {D}: 60 clean rows vs trailing 3-day mean 10.0")
    assert res["bot_share"].status == "passed" and res["reconciliation"].status == "passed"
    assert res["gx_suite[events_clean]"].status == "passed"
    # the events for the quarantined catalog item are unknown_item, not silently dropped
    q = read_table(spark, cfg, "interactions_quarantine", filters=[("event_date", "=", D)])
    assert sorted({(r.reason, r.item_id) for r in q.collect()}) == [("unknown_item", "i9")]
    [cq] = read_table(spark, cfg, "catalog_quarantine", filters=[("run_date", "=", D)]).collect()
    assert (cq.item_id, cq.reason, cq.run_date) == ("i9", "negative_price", D)
    assert {r.item_id for r in read_table(spark, cfg, "catalog_clean").collect()} == {
        "i1", "i2", "i3", "i4", "i5"}
    rec = runlog.load(cfg, "validate", D)
    assert rec["status"] == "failed" and "clean_rate check failed" in rec["error"]
    docs = tmp_root / "val-fail" / "_artifacts" / "validation" / D.isoformat() / "index.html"
    assert docs.exists()


def test_missing_raw_events_is_a_clear_error(tmp_root, capsys):
    cfg, over = _lake(tmp_root, "val-empty")
    code = _validate(over, D)
    assert code == 2
    assert "table 'raw_events' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["validate.rules_file=/nonexistent/rules.yaml"])
def test_missing_rules_file(tmp_root, capsys, bad):
    _, over = _lake(tmp_root, "val-rules", [bad])
    assert _validate(over, D) == 2
    assert "/nonexistent/rules.yaml does not exist" in capsys.readouterr().err
