"""Optional quality check on MovieLens ml-latest-small with a global time split (skips when
../shared is absent): our import, feature families, local trainer and evaluation, model NDCG@10
vs the popularity baselines. Issue #5 asks for >= 1.5x popularity; see benchmarks/movielens.py
for the protocol and `python -m benchmarks.movielens` for the figure.

Takes 3-6 minutes on the shared 2-core build machine (measured 3m09s at load 4 and 5m46s at
load 6: import ~30-50 s, candidate groups ~30-45 s, feature joins on ~375k candidate rows
1.5-3 min, two trainer variants ~40-60 s), so it is marked heavy: `make test-all` runs it,
`make test` does not."""
from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.movielens import MovieLensSettings, run, summary_lines

pytestmark = [pytest.mark.e2e, pytest.mark.heavy, pytest.mark.slow]


@pytest.fixture(scope="module")
def ml(spark, shared_datasets, tmp_root):
    res = run(spark, shared_datasets / "movielens_small", str(tmp_root / "movielens-lake"))
    print("\n".join(summary_lines(res)))
    return res


def test_time_split_is_leak_free_and_sized(ml):
    s = ml.splits
    assert s["train"][1] == s["validation"][0] and s["validation"][1] == s["test"][0]
    assert ml.sizes["ratings"] == 100_836 and ml.sizes["items"] == 9_742
    for name in ("train", "validation", "test"):
        assert ml.sizes["groups"][name] > 100, name
        # every row of a group has the group's candidates: at most `candidates` rows per group
        assert ml.sizes["rows"][name] <= ml.sizes["groups"][name] * MovieLensSettings.candidates
    assert ml.evaluation["test_groups"] == ml.sizes["groups"]["test"]


def test_model_vs_baselines(ml):
    """Measured: model 0.167, popularity 0.171 (0.98x), all-history popularity 0.127."""
    n = ml.evaluation["ndcg@10"]
    assert n["model"] > 2 * max(n["random"], n["text_match"])
    assert n["model"] > 1.5 * n["popularity_context"]
    assert n["model"] > 1.15 * n["popularity_all"]  # all-history popularity as of the day before
    assert n["model"] >= 0.9 * n["popularity"]  # about level with it; see the issue target below
    variants = ml.evaluation["variants"]  # the model is picked on validation, never on test
    assert ml.evaluation["chosen_variant"] == max(variants, key=lambda k: variants[k]["valid_ndcg10"])


@pytest.mark.xfail(strict=True, reason="issue #5 target: model NDCG@10 >= 1.5 x popularity is not "
                                       "reached on MovieLens with our feature families (measured "
                                       "0.98x; see benchmarks/movielens.py)")
def test_issue_target_ratio(ml):
    assert ml.ratio >= 1.5


def test_report_is_serialisable(ml):
    d = ml.to_dict()
    assert set(d["ratios"]) >= {"model/popularity", "model/popularity_all", "model/random"}
    assert pd.Series(d["evaluation"]["ndcg@10"]).between(0, 1).all()
