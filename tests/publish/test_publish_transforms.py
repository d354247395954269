"""The publish stage's pure transforms on tiny inline frames (null rows, ties, bad ranks)."""
from __future__ import annotations

from datetime import date

import pytest

from jobs.common.errors import DataError
from jobs.publish import check_stats, list_stats, sample_lists, union_lists
from jobs.serving.writer import category_leaves
from tests.publish.helpers import GEN_AT, TOPK_SCHEMA

D = date(2031, 1, 1)


def _df(spark, rows):
    return spark.createDataFrame([(e, items, src, "m1", D, GEN_AT) for e, items, src in rows], TOPK_SCHEMA)


def test_list_stats_counts_every_problem(spark):
    user = _df(spark, [
        ("u1", [(1, "a", 0.9), (2, "b", 0.9)], "personalized"),  # a tie: fine
        ("u1", [(1, "a", 0.9)], "personalized"),  # duplicate entity
        (None, [(1, "a", 0.5)], "personalized"),  # null entity
        ("u2", [(2, "a", 0.5), (1, "b", 0.4)], "personalized"),  # ranks out of order
        ("u3", [(1, None, 0.5)], "personalized"),  # null item id
        ("u4", [], "personalized"),  # empty list
        ("u5", [(1, "a", 0.5)], "popular"),  # unknown source
    ])
    fb = _df(spark, [("global", [(1, "a", 1.0)], "fallback"), ("x/y/shoes", [(1, "b", 1.0)], "fallback")])
    stats = {r["kind"]: r.asDict() for r in list_stats(union_lists({"user": user, "fallback": fb})).collect()}
    assert stats["user"] == {"kind": "user", "rows": 7, "entities": 5, "null_entity": 1, "null_items": 0,
                             "bad_items": 1, "bad_ranks": 1, "bad_source": 1, "empty": 1, "max_len": 2,
                             "model_versions": ["m1"], "fb_ids": []}
    assert sorted(stats["fallback"]["fb_ids"]) == ["global", "x/y/shoes"]
    with pytest.raises(DataError, match="topk_user: 1 rows with null_entity; .*1 duplicate entity_id"):
        check_stats(list(stats.values()), D)
    sample = sample_lists(union_lists({"user": user}), {"user": 7}, 2, "seed").collect()
    assert len(sample) == 2 and all(len(r["items"]) > 0 for r in sample)


def test_category_leaves():
    assert category_leaves(["b/x/Running-Shoes", "a/y/running shoes", "c/d/pans", "top"]) == {
        "running shoes": "a/y/running shoes", "pans": "c/d/pans", "top": "top"}


def test_process_and_redis_cpu_seconds_follow_real_work(redis_server):
    """The publisher's CPU accounting (who used the box while the lists were written)."""
    import os
    import time

    import redis

    from jobs.publish import process_cpu_s, redis_cpu_s

    before = process_cpu_s(os.getpid())
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:  # burn 0.3 s of this process's CPU
        sum(range(1000))
    assert before is not None and 0.2 <= process_cpu_s(os.getpid()) - before <= 2.0
    assert process_cpu_s(2**22 + 12345) is None  # no such process: no figure, no error
    r = redis.Redis.from_url(redis_server)
    r0 = redis_cpu_s(r)
    r.set("cpu-test", b"x" * 1000)
    for _ in range(3):
        assert len(r.mget(["cpu-test"] * 20_000)) == 20_000  # ~20 MB of replies to build
    assert r0 is not None and redis_cpu_s(r) > r0
    r.delete("cpu-test")
