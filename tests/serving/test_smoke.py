"""``ranklake smoke``: passes on a good publish, fails clearly on the wrong run date."""
from __future__ import annotations

import argparse

import pytest

from jobs.common import runlog
from jobs.common.cli import JobContext
from jobs.common.errors import CheckFailed
from jobs.serving import smoke
from tests.serving.conftest import RUN_DATE


def _ctx(cfg, run_date):
    args = argparse.Namespace(url=None, sample=5, in_process=True)
    return JobContext(cfg=cfg, args=args, run_date=run_date, rec=runlog.new_record(cfg, "smoke", run_date))


def test_smoke_passes_for_the_published_date(published):
    cfg, _, _ = published
    ctx = _ctx(cfg, RUN_DATE)
    smoke.run(ctx)
    assert ctx.rec.counts["smoke_requests"] == 5 + 2 + 2


def test_smoke_fails_for_another_date(published):
    from datetime import date

    with pytest.raises(CheckFailed, match="is for run date 2031-05-01, not 2031-05-02"):
        smoke.run(_ctx(published[0], date(2031, 5, 2)))


def test_check_response_catches_wrong_lists():
    stored = ["a", "b", "c", "d"]
    good = {"items": [{"item_id": "a"}, {"item_id": "c"}], "list_version": "v", "source": "query"}
    assert smoke.check_response(good, "v", stored, {"a", "c", "d"}, "x") == []
    bad = {"items": [{"item_id": "b"}], "list_version": "w", "source": "fallback"}
    assert len(smoke.check_response(bad, "v", stored, {"a", "c"}, "x")) == 3
    # a cold-start user's own stored list is a 'fallback' list: answering from it is right ...
    cold = {"items": [{"item_id": "a"}], "list_version": "v", "source": "fallback"}
    assert smoke.check_response(cold, "v", stored, {"a"}, "x", stored_source="fallback") == []
    # ... but answering a personalised entity with another source is not
    problems = smoke.check_response(good, "v", stored, {"a", "c", "d"}, "x", stored_source="personalized")
    assert problems == ["x: source query != stored personalized"]
