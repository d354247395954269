"""Batch-level checks (volume, bot share, clean rate, GX clean suite), their results table rows,
and the one-screen run summary. Pure Python on small aggregates: nothing here touches rows.

A failed ``gate`` check raises :class:`CheckFailed` (exit code 3) -- after the caller has written
the results, so the failure is inspectable in ``validation_results``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Mapping, Sequence

from jobs.common import columns as C
from jobs.common.errors import CheckFailed

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from jobs.quality.gx_suite import ExpectationOutcome

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
RESULT_SCHEMA = ("check string, severity string, status string, observed double, "
                 "threshold string, message string, rule_version string, run_date date")


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # passed | failed | skipped
    observed: float | None
    threshold: str
    message: str
    severity: str = "gate"  # gate: a failure stops the run; info: reported only


def volume_check(event_date: date, count: int, history: dict[date, int], *, k: float,
                 window_days: int, min_history: int = 3) -> CheckResult:
    """Clean rows of ``event_date`` against the mean +- k sigma of the trailing window.

    sigma is floored at sqrt(mean) (Poisson noise) and 1 so a perfectly flat history does not
    alert on one extra row. Dates without a partition are missing history, not zeros."""
    name = f"volume[{event_date.isoformat()}]"
    past = [history[d] for d in (event_date - timedelta(days=i) for i in range(1, window_days + 1))
            if d in history]
    if len(past) < min_history:
        return CheckResult(name, SKIPPED, float(count), f"needs >= {min_history} days of history",
                           f"volume check skipped for {event_date}: {len(past)} day(s) of clean "
                           f"history in the trailing {window_days} days (< {min_history})")
    mean = sum(past) / len(past)
    var = sum((x - mean) ** 2 for x in past) / max(len(past) - 1, 1)
    sigma = max(math.sqrt(var), math.sqrt(mean), 1.0)
    lo, hi = mean - k * sigma, mean + k * sigma
    threshold = f"{lo:.0f}..{hi:.0f}"
    if lo <= count <= hi:
        return CheckResult(name, PASSED, float(count), threshold,
                           f"volume {event_date}: {count} clean rows within {threshold}")
    kind = "spike" if count > hi else "drop"
    return CheckResult(name, FAILED, float(count), threshold,
                       f"volume check failed ({kind}) for event_date {event_date}: {count} clean rows"
                       f" vs trailing {len(past)}-day mean {mean:.1f} +- {k:g} x sigma {sigma:.1f}"
                       f" (allowed {threshold})")


def bot_rows_by_reason(reasons: Mapping[str | None, int],
                       bot_reasons: Sequence[str]) -> dict[str, int]:
    """Quarantined rows per bot reason (the rules marked ``bot: true``), zeros included."""
    return {r: int(reasons.get(r, 0)) for r in bot_reasons}


def bot_share_check(bot_rows: int, rows: int, max_share: float,
                    by_reason: Mapping[str, int] | None = None) -> CheckResult:
    share = bot_rows / rows if rows else 0.0
    threshold = f"<= {max_share:.2%}"
    split = ("; " + ", ".join(f"{k} {v}" for k, v in by_reason.items())) if by_reason else ""
    if share <= max_share:
        return CheckResult("bot_share", PASSED, share, threshold,
                           f"bot share {share:.2%} ({bot_rows} of {rows} events{split})")
    return CheckResult("bot_share", FAILED, share, threshold,
                       f"bot_share check failed: {share:.2%} of {rows} events ({bot_rows}{split}) "
                       f"come from bot-like users > max {max_share:.2%} (validate.bot_max_share)")


def clean_rate_check(clean_rows: int, rows: int, min_rate: float) -> CheckResult:
    rate = clean_rows / rows if rows else 1.0
    threshold = f">= {min_rate:.2%}"
    if rate >= min_rate:
        return CheckResult("clean_rate", PASSED, rate, threshold,
                           f"clean rate {rate:.2%} ({clean_rows} of {rows} events)")
    return CheckResult("clean_rate", FAILED, rate, threshold,
                       f"clean_rate check failed: {rate:.2%} of {rows} events clean ({clean_rows})"
                       f" < min {min_rate:.2%} (validate.min_clean_rate)")


def reconciliation_check(rows_in: int, clean: int, quarantined: int, exact_dups: int) -> CheckResult:
    total = clean + quarantined + exact_dups
    ok = rows_in == total
    msg = (f"rows in {rows_in} = clean {clean} + quarantined {quarantined} + exact duplicates "
           f"{exact_dups}" if ok else
           f"reconciliation check failed: rows in {rows_in} != clean {clean} + quarantined "
           f"{quarantined} + exact duplicates {exact_dups} (= {total}); rows were lost or duplicated")
    return CheckResult("reconciliation", PASSED if ok else FAILED, float(total - rows_in), "= 0", msg)


def gx_checks(outcomes: Sequence[ExpectationOutcome]) -> list[CheckResult]:
    """One info row per expectation; one gate row per *clean* batch (it must pass entirely:
    a failure there means the filter and the suite disagree)."""
    out = []
    for o in outcomes:
        out.append(CheckResult(
            f"gx:{o.batch}:{o.expectation}({o.column})", PASSED if o.success else FAILED,
            o.observed, "", f"rule {o.reason}: {'ok' if o.success else 'unexpected'} "
            f"{'' if o.observed is None else int(o.observed)} of {o.element_count}", "info"))
    for batch in sorted({o.batch for o in outcomes if o.batch.endswith("_clean")}):
        bad = [o for o in outcomes if o.batch == batch and not o.success]
        msg = (f"GX suite passed on {batch}" if not bad else
               f"gx_suite check failed on {batch}: {len(bad)} expectation(s) failed: " + "; ".join(
                   f"{o.expectation}({o.column}) observed {o.observed}" for o in bad[:5]))
        out.append(CheckResult(f"gx_suite[{batch}]", FAILED if bad else PASSED, float(len(bad)),
                               "= 0 failed expectations", msg))
    return out


def raise_if_failed(results: Sequence[CheckResult]) -> None:
    failed = [r for r in results if r.severity == "gate" and r.status == FAILED]
    if failed:
        raise CheckFailed("; ".join(r.message for r in failed))


def results_frame(spark: SparkSession, results: Sequence[CheckResult], *, run_date: date,
                  rule_version: str) -> DataFrame:
    rows = [(r.check, r.severity, r.status, r.observed, r.threshold, r.message, rule_version,
             run_date) for r in results]
    return spark.createDataFrame(rows, RESULT_SCHEMA).select(
        "check", "severity", "status", "observed", "threshold", "message", C.RULE_VERSION,
        C.RUN_DATE)


def summary_text(run_date: date, counts: dict[str, int], reasons: dict[str, int],
                 results: Sequence[CheckResult], docs: str | None) -> str:
    """The one-screen human summary printed at the end of every run."""
    lines = [f"== validate {run_date}: events in {counts.get('rows_in', 0)}, "
             f"clean {counts.get('clean', 0)}, quarantined {counts.get('quarantined', 0)}, "
             f"exact duplicates dropped {counts.get('exact_duplicates', 0)}"]
    if counts.get("event_dates"):
        lines.append(f"   event dates recomputed: {counts['event_dates']}")
    lines.append("   quarantined by reason: " + (", ".join(
        f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"))
    cat = {k: v for k, v in counts.items() if k.startswith("catalog_")}
    if cat:
        lines.append("   catalog: " + ", ".join(f"{k.removeprefix('catalog_')} {v}"
                                                for k, v in cat.items()))
    gate = [r for r in results if r.severity == "gate"]
    info_failed = sum(1 for r in results if r.severity == "info" and r.status == FAILED)
    lines.append(f"   checks: {sum(r.status == PASSED for r in gate)} passed, "
                 f"{sum(r.status == FAILED for r in gate)} failed, "
                 f"{sum(r.status == SKIPPED for r in gate)} skipped; "
                 f"GX expectations unmet on input batches: {info_failed}")
    for r in gate:
        if r.status != PASSED:
            lines.append(f"   [{r.status.upper()}] {r.message}")
    if docs:
        lines.append(f"   data docs: {docs}")
    return "\n".join(lines)
