"""Batch-level checks: each failure names the check and the numbers; gate vs info severity."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs.common.errors import CheckFailed
from jobs.quality import checks
from jobs.quality.gx_suite import ExpectationOutcome

E = date(2026, 11, 20)


def _hist(values):
    return {E - timedelta(days=i + 1): v for i, v in enumerate(values)}


def test_volume_spike_and_drop_messages():
    h = _hist([1000, 1010, 990, 1005, 995])  # mean 1000, sample sd ~7.9 -> floor sqrt(1000)=31.6
    ok = checks.volume_check(E, 1100, h, k=4.0, window_days=14)
    assert ok.status == "passed" and ok.threshold == "874..1126"
    spike = checks.volume_check(E, 1200, h, k=4.0, window_days=14)
    assert spike.status == "failed"
    assert spike.message == ("volume check failed (spike) for event_date 2026-11-20: 1200 clean "
                             "rows vs trailing 5-day mean 1000.0 +- 4 x sigma 31.6 (allowed 874..1126)")
    drop = checks.volume_check(E, 10, h, k=4.0, window_days=14)
    assert drop.status == "failed" and "(drop)" in drop.message and ": 10 clean rows" in drop.message


def test_volume_needs_history_and_uses_window_only():
    h = {**_hist([100, 100]), E - timedelta(days=30): 5}  # 2 days inside the window, 1 outside
    r = checks.volume_check(E, 10_000, h, k=4.0, window_days=14, min_history=3)
    assert r.status == "skipped" and "2 day(s) of clean history" in r.message


def test_bot_share_and_clean_rate():
    assert checks.bot_share_check(5, 100, 0.05).status == "passed"  # tie at the threshold passes
    bad = checks.bot_share_check(6, 100, 0.05)
    assert bad.status == "failed" and bad.message == (
        "bot_share check failed: 6.00% of 100 events (6) come from bot-like users > max 5.00% "
        "(validate.bot_max_share)")
    assert checks.clean_rate_check(95, 100, 0.95).status == "passed"
    low = checks.clean_rate_check(90, 100, 0.95)
    assert low.message == ("clean_rate check failed: 90.00% of 100 events clean (90) < min 95.00% "
                           "(validate.min_clean_rate)")
    assert checks.clean_rate_check(0, 0, 0.95).status == "passed"  # no rows: nothing to judge


def test_reconciliation():
    assert checks.reconciliation_check(10, 7, 2, 1).status == "passed"
    bad = checks.reconciliation_check(10, 7, 2, 0)
    assert bad.status == "failed" and "rows in 10 != clean 7 + quarantined 2" in bad.message


def test_raise_if_failed_only_for_gate_checks():
    info = checks.CheckResult("gx:events_input:x(y)", "failed", 3.0, "", "m", "info")
    checks.raise_if_failed([info, checks.clean_rate_check(99, 100, 0.95)])
    with pytest.raises(CheckFailed) as exc:
        checks.raise_if_failed([info, checks.clean_rate_check(90, 100, 0.95),
                                checks.bot_share_check(6, 100, 0.05)])
    assert str(exc.value).startswith("bot_share check failed") is False
    assert "clean_rate check failed: 90.00%" in str(exc.value)
    assert "bot_share check failed: 6.00%" in str(exc.value)
    assert exc.value.exit_code == 3


def test_gx_clean_batch_is_a_gate():
    outs = [ExpectationOutcome("events_input", "expect_column_values_to_not_be_null", "user_id",
                               "null_user_id", False, 2.0, 10),
            ExpectationOutcome("events_clean", "expect_column_values_to_not_be_null", "user_id",
                               "null_user_id", True, 0.0, 8)]
    res = {r.check: r for r in checks.gx_checks(outs)}
    assert res["gx_suite[events_clean]"].status == "passed"
    assert res["gx:events_input:expect_column_values_to_not_be_null(user_id)"].severity == "info"
    outs.append(ExpectationOutcome("events_clean", "expect_column_values_to_be_between",
                                   "position", "bad_position", False, 1.0, 8))
    gate = {r.check: r for r in checks.gx_checks(outs)}["gx_suite[events_clean]"]
    assert gate.status == "failed" and "expect_column_values_to_be_between(position) observed 1.0" \
        in gate.message


def test_summary_is_one_screen():
    res = [checks.reconciliation_check(10, 7, 2, 1), checks.clean_rate_check(7, 9, 0.95)]
    text = checks.summary_text(E, {"rows_in": 10, "clean": 7, "quarantined": 2,
                                   "exact_duplicates": 1}, {"bot_user": 1, "duplicate": 1}, res,
                               "/x/index.html")
    assert text.splitlines()[0] == ("== validate 2026-11-20: events in 10, clean 7, quarantined 2, "
                                    "exact duplicates dropped 1")
    assert "quarantined by reason: bot_user 1, duplicate 1" in text
    assert "checks: 1 passed, 1 failed, 0 skipped" in text and "[FAILED] clean_rate" in text
    assert len(text.splitlines()) < 25
