"""End to end on generated data: the quarantine finds exactly the injected bad rows."""
from __future__ import annotations

from datetime import date

import pytest

from jobs.common import runlog
from jobs.common.cli import main
from jobs.common.config import load_config
from jobs.common.delta import read_table

END = date(2026, 11, 20)
DAYS = 8


@pytest.mark.e2e
def test_generated_dirty_rows_are_exactly_the_quarantine(spark, tmp_root):
    over = [f"lake.root={tmp_root / 'val-e2e'}", "validate.bot_max_events_per_day=80",
            f"validate.window_days={DAYS}", "validate.min_clean_rate=0.9",
            # the real engine: GX on Spark over the full input and clean batches
            "validate.gx_engine=spark", "validate.gx_input_batch=true"]
    conf = [x for o in over for x in ("--conf", o)]
    assert main(["generate", "--env", "test", "--events", "4000", "--days", str(DAYS),
                 "--dirty-fraction", "0.06", "--end-date", END.isoformat(), *conf]) == 0
    assert main(["validate", "--env", "test", "--run-date", END.isoformat(), *conf]) == 0
    cfg = load_config("test", overrides=over)

    truth: dict[str, set[str]] = {}
    for r in read_table(spark, cfg, "truth_dirty").collect():
        truth.setdefault(r.injected_reason, set()).add(r.event_id)
    got: dict[str, set[str]] = {}
    for r in read_table(spark, cfg, "interactions_quarantine").collect():
        got.setdefault(r.reason, set()).add(r.event_id)
    exact = truth.pop("exact_duplicate", set())
    # the run really exercises them: a daily-volume bot and a fast clicker under the daily cap
    assert {"bot_user", "bot_click_rate", "too_old"} <= set(truth)
    assert got == truth

    rec = runlog.load(cfg, "validate", END)["counts"]
    raw_n = read_table(spark, cfg, "raw_events").count()
    assert rec["rows_in"] == raw_n
    assert rec["exact_duplicates"] == len(exact)
    assert rec["clean"] == raw_n - sum(len(v) for v in truth.values()) - len(exact)
    clean = read_table(spark, cfg, "interactions_clean")
    assert clean.count() == rec["clean"]
    assert clean.select("event_id").distinct().count() == rec["clean"]
    assert not set(r.event_id for r in clean.collect()) & set().union(*truth.values())
    checks = {r.check: r for r in read_table(spark, cfg, "validation_results").collect()}
    res = {k: r.status for k, r in checks.items()}
    assert res["gx_suite[events_clean]"] == "passed" and res["gx_suite[catalog_clean]"] == "passed"
    assert res["clean_rate"] == "passed" and res["bot_share"] == "passed"
    bots = len(truth["bot_user"]) + len(truth["bot_click_rate"])  # both count as bot traffic
    assert checks["bot_share"].observed == pytest.approx(bots / (raw_n - len(exact)))
    assert f"bot_user {len(truth['bot_user'])}, bot_click_rate " in checks["bot_share"].message
    docs = tmp_root / "val-e2e" / "_artifacts" / "validation" / END.isoformat() / "index.html"
    assert docs.exists()
