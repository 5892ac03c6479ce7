"""Ranking metrics against rankings worked out by hand (the numbers in the comments are the working)."""
from __future__ import annotations

import math

import pytest

from pipeline.recommend_metrics import coverage, evaluate, ndcg_at_k, precision_at_k, recall_at_k

# ranking of user 1: hits at positions 1 and 3 (deals 10 and 30); deal 99 is relevant but not ranked
RANKING = [10, 20, 30, 40, 50]
RELEVANT = {10, 30, 99}


def test_precision_counts_hits_over_k_slots() -> None:
    assert precision_at_k(RANKING, RELEVANT, 5) == pytest.approx(2 / 5)
    assert precision_at_k(RANKING, RELEVANT, 1) == pytest.approx(1.0)
    assert precision_at_k(RANKING, RELEVANT, 2) == pytest.approx(1 / 2)
    # a list shorter than k still has k slots: 2 hits in 10 slots
    assert precision_at_k(RANKING, RELEVANT, 10) == pytest.approx(0.2)


def test_recall_counts_hits_over_relevant() -> None:
    assert recall_at_k(RANKING, RELEVANT, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, RELEVANT, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, set(), 5) == 0.0


def test_ndcg_discounts_by_log_position() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5; ideal for 3 relevant in 5 slots = 1 + 1/log2(3) + 1/2
    ideal = 1 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(RANKING, RELEVANT, 5) == pytest.approx(1.5 / ideal)
    # k = 2: DCG = 1 (only position 1 hits); ideal = 1 + 1/log2(3)
    assert ndcg_at_k(RANKING, RELEVANT, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([30, 10], {10, 30}, 2) == pytest.approx(1.0)  # order among hits does not matter
    assert ndcg_at_k([1, 2], {3}, 2) == 0.0


def test_coverage_is_the_share_of_the_catalog_shown_in_any_top_k() -> None:
    rankings = {1: [1, 2, 3], 2: [3, 4, 5], 3: [1]}
    assert coverage(rankings, 10, 2) == pytest.approx(4 / 10)  # {1, 2, 3, 4}
    assert coverage(rankings, 10, 3) == pytest.approx(5 / 10)
    assert coverage({}, 0, 3) == 0.0


def test_evaluate_averages_over_users_with_something_to_find() -> None:
    rankings = {1: RANKING, 2: [7, 8], 3: [5]}
    relevant = {1: RELEVANT, 2: {8}, 3: set(), 4: {1}}  # user 3 is skipped; user 4 has no ranking (all misses)
    result = evaluate(rankings, relevant, catalog_size=20, k=2)
    assert result.users == 3
    # precision@2: user 1 = 1/2, user 2 = 1/2, user 4 = 0 -> 1/3
    assert result.precision == pytest.approx(1 / 3)
    # recall@2: 1/3, 1, 0 -> 4/9
    assert result.recall == pytest.approx(4 / 9)
    # ndcg@2: user 1 = 1 / (1 + 1/log2 3); user 2 = (1/log2 3) / 1; user 4 = 0
    expected = (1 / (1 + 1 / math.log2(3)) + 1 / math.log2(3)) / 3
    assert result.ndcg == pytest.approx(expected)
    # coverage@2 over all rankings: {10, 20, 7, 8, 5} of 20
    assert result.coverage == pytest.approx(5 / 20)
    assert result.as_metrics("blend", 2) == {
        "blend_precision_at_2": result.precision, "blend_recall_at_2": result.recall,
        "blend_ndcg_at_2": result.ndcg, "blend_coverage": result.coverage}
