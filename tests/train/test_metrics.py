"""Metric code vs hand-computed values and vs sklearn.metrics.ndcg_score (ties, k, gains)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from jobs import metrics as M


def test_ndcg_hand_computed_exp_gain():
    # labels in score order: 3, 0, 1 -> gains 7, 0, 1
    dcg = 7 / math.log2(2) + 0 + 1 / math.log2(4)
    idcg = 7 / math.log2(2) + 1 / math.log2(3)
    assert M.ndcg_at_k([3, 0, 1], [0.9, 0.5, 0.1], k=3) == pytest.approx(dcg / idcg, abs=1e-12)
    # k=1 only sees the top item, which is the best one
    assert M.ndcg_at_k([3, 0, 1], [0.9, 0.5, 0.1], k=1) == pytest.approx(1.0)


def test_ndcg_tie_is_averaged_not_order_dependent():
    # the two items tie: each is expected at rank 1 or 2 with the mean gain (1+0)/2
    expected = (0.5 * (1 / math.log2(2) + 1 / math.log2(3))) / 1.0
    assert M.ndcg_at_k([1, 0], [0.5, 0.5], k=2) == pytest.approx(expected)
    assert M.ndcg_at_k([0, 1], [0.5, 0.5], k=2) == pytest.approx(expected)


def test_no_relevant_item_is_nan_and_skipped():
    assert math.isnan(M.ndcg_at_k([0, 0], [1, 2], k=2))
    frame = pd.DataFrame({"group_id": ["a", "a", "b", "b"], "label": [1, 0, 0, 0],
                          "score": [0.2, 0.1, 0.5, 0.4]})
    pg = M.group_metrics(frame, "score", ks=(2,))
    assert M.summarize(pg)["ndcg@2"] == 1.0 and M.summarize(pg)["n_groups"] == 1
    assert M.summarize(pg, empty="one")["n_groups"] == 2
    assert M.summarize(pg, empty="zero")["ndcg@2"] == 0.5


def test_mrr_map_recall_hand_computed_with_tie_by_item_order():
    labels, scores = [0, 2, 0, 1], [0.9, 0.8, 0.8, 0.1]  # tie 0.8: the earlier row wins
    assert M.reciprocal_rank(labels, scores) == 0.5
    # relevant at ranks 2 and 4: AP@10 = (1/2 + 2/4) / 2
    assert M.average_precision_at_k(labels, scores, 10) == pytest.approx(0.5)
    assert M.average_precision_at_k(labels, scores, 2) == pytest.approx(0.5 / 2)
    assert M.recall_at_k(labels, scores, 2) == 0.5
    assert math.isnan(M.reciprocal_rank([0, 0], [1, 2]))


def test_coverage_and_curve():
    frame = pd.DataFrame({"group_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "x", "z"],
                          "label": [1, 0, 0, 1], "score": [2.0, 1.0, 3.0, 3.0]})
    assert M.coverage(frame, "score", 1, catalogue_size=4) == 0.25  # x tops both (tie -> item id)
    curve = M.ndcg_curve(frame, "score", ks=(1, 2))
    assert curve[1] == pytest.approx((1.0 + 0.5) / 2)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_ndcg_matches_sklearn_on_random_inputs_with_ties(seed, k):
    rng = np.random.default_rng(seed)
    n_groups, n = 20, 8
    y = rng.integers(0, 4, (n_groups, n))
    s = rng.integers(0, 4, (n_groups, n)).astype(float)  # coarse scores: many ties
    y[0] = 0  # an all-irrelevant group: sklearn scores it 0
    ours_lin = [M.ndcg_at_k(y[i], s[i], k, gain="linear") for i in range(n_groups)]
    ours_exp = [M.ndcg_at_k(y[i], s[i], k, gain="exp") for i in range(n_groups)]
    ref_lin = ndcg_score(y, s, k=k)
    ref_exp = ndcg_score(2.0 ** y - 1, s, k=k)
    assert np.mean(np.nan_to_num(ours_lin, nan=0.0)) == pytest.approx(ref_lin, abs=1e-12)
    assert np.mean(np.nan_to_num(ours_exp, nan=0.0)) == pytest.approx(ref_exp, abs=1e-12)
    for i in range(1, n_groups):  # per group too
        assert ours_exp[i] == pytest.approx(ndcg_score([2.0 ** y[i] - 1], [s[i]], k=k), abs=1e-12)


def test_group_metrics_rejects_nan_scores():
    frame = pd.DataFrame({"group_id": ["a"], "label": [1], "score": [float("nan")]})
    with pytest.raises(ValueError, match="NaN"):
        M.group_metrics(frame, "score")


def test_paired_comparison_hand_computed_and_clear():
    from jobs.evaluate import paired_comparison

    a = pd.Series([0.9, 0.8, 1.0, 0.7], index=["g1", "g2", "g3", "g4"])
    b = pd.Series([0.5, 0.6, 0.4, 0.3, 0.2], index=["g4", "g2", "g1", "g3", "g9"])  # other order
    c = paired_comparison(a, b, seed=1, resamples=500)
    # per group: g1 0.9-0.4, g2 0.8-0.6, g3 1.0-0.3, g4 0.7-0.5 (g9 has no pair)
    assert c["n_groups"] == 4 and c["diff"] == pytest.approx((0.5 + 0.2 + 0.7 + 0.2) / 4)
    # the interval lies within the smallest and the largest per-group difference
    assert 0.2 - 1e-9 <= c["ci"][0] <= c["diff"] <= c["ci"][1] <= 0.7 + 1e-9
    assert c["clearly_better"] is True


def test_paired_comparison_same_scorer_and_noise_are_not_clear():
    from jobs.evaluate import paired_comparison

    rng = np.random.default_rng(3)
    a = pd.Series(rng.random(400))
    same = paired_comparison(a, a.copy(), seed=1)
    assert same["diff"] == 0.0 and same["ci"] == [0.0, 0.0] and same["clearly_better"] is False
    noise = paired_comparison(a, pd.Series(rng.random(400)), seed=1)
    assert noise["ci"][0] < 0 < noise["ci"][1] and noise["clearly_better"] is False
    # a real but small edge on many groups is detected; the interval covers the true edge
    base = pd.Series(rng.random(20_000))
    better = base + 0.02 + rng.normal(0, 0.1, 20_000)
    edge = paired_comparison(better, base, seed=2)
    assert edge["clearly_better"] is True and edge["ci"][0] < 0.02 < edge["ci"][1]
    assert paired_comparison(a.iloc[:0], a, seed=1)["clearly_better"] is False
