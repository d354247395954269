"""BENCHMARKS.md's cross-size rows: scaling from the totals, or from the stage figures when the
stages of a size ran in more than one invocation (a resumed run has no single total)."""
from __future__ import annotations

from benchmarks.report import cross_size


def _run(**walls):
    return {"figures": [{"id": f"P1.{k}_s", "value": {"median": v}} for k, v in walls.items()]}


def _by_id(rows):
    return {r["id"]: r for r in rows}


def test_scaling_uses_the_totals_when_both_sizes_have_one():
    rows = _by_id(cross_size({"1M": _run(total=100.0, topk=40.0), "10M": _run(total=900.0, topk=500.0)}))
    assert rows["X.scaling_total"]["ratio"] == 9.0 and rows["X.scaling_total"]["status"] == "pass"
    assert "sum of the five" not in rows["X.scaling_total"]["note"]
    assert rows["X.scaling_topk"]["ratio"] == 12.5 and rows["X.scaling_topk"]["status"] == "miss"


def test_scaling_total_falls_back_to_the_stage_sum():
    stages = dict(validate=10.0, features=20.0, train=5.0, topk=60.0, publish=5.0)  # 100 s
    ten = {k: v * 8 for k, v in stages.items()}
    rows = _by_id(cross_size({"1M": _run(total=110.0, **stages), "10M": _run(**ten)}))
    total = rows["X.scaling_total"]
    assert total["ratio"] == round(800.0 / 110.0, 3) and "sum of the five" in total["note"]
    # a missing stage leaves no total at all rather than a wrong one
    del ten["publish"]
    rows = _by_id(cross_size({"1M": _run(**stages), "10M": _run(**ten)}))
    assert "X.scaling_total" not in rows and rows["X.scaling_topk"]["ratio"] == 8.0


def test_publish_cause_takes_the_median_run_and_its_slowest_task():
    from benchmarks.publish_bench import publish_cause

    def run(job, *tasks):
        return {"lists_s": job, "tasks": [{"lists": 10, "read_encode_s": r, "send_s": s, "idle_s": i}
                                          for r, s, i in tasks]}

    text = publish_cause([run(5.0, (1, 1, 1)), run(1.5, (0.4, 0.9, 0.2), (0.3, 1.0, 0.1)),
                          run(1.0, (0.1, 0.5, 0.1))], keys=437_318, ref_s=0.6)
    assert text.startswith("median run: job 1.50 s for 437,318 keys")
    assert "slowest of 2 writer tasks took 1.10 s" in text and "start and finish 0.40 s" in text
    assert "in 0.60 s" in text
    assert publish_cause([{"lists_s": 2.0}], 5, 0.1) == "job 2.00 s (no per-task timing recorded)"
