"""Ranking metrics of recommendations, in plain Python (no Spark): the job's grid and the bench use them.

A ranking is a user's recommended deal ids, best first; the relevant set is what the user went on to
interact with in the held-out part of their history. Averages run over the users that have a
relevant set (a user with nothing to find cannot be scored); a missing ranking counts as empty.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

Rankings = Mapping[int, Sequence[int]]
Relevant = Mapping[int, Collection[int]]


def precision_at_k(ranking: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Share of the first `k` slots that hold a relevant deal (a short list still counts `k` slots)."""
    return sum(1 for deal in ranking[:k] if deal in relevant) / k


def recall_at_k(ranking: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Share of the relevant deals found in the first `k`; 0 when nothing is relevant."""
    if not relevant:
        return 0.0
    return sum(1 for deal in ranking[:k] if deal in relevant) / len(relevant)


def ndcg_at_k(ranking: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Binary-relevance NDCG: sum of 1 / log2(position + 1) over hits, over the best possible sum."""
    gain = sum(1 / math.log2(i + 2) for i, deal in enumerate(ranking[:k]) if deal in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def coverage(rankings: Rankings, catalog_size: int, k: int) -> float:
    """Share of the catalog that appears in at least one user's first `k`."""
    shown = {deal for ranking in rankings.values() for deal in ranking[:k]}
    return len(shown) / catalog_size if catalog_size else 0.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    precision: float
    recall: float
    ndcg: float
    coverage: float
    users: int  # users with a relevant set

    def as_metrics(self, model: str, k: int) -> dict[str, float]:
        """Flat keys as the bench writes them: `<model>_precision_at_<k>` etc."""
        return {f"{model}_precision_at_{k}": self.precision, f"{model}_recall_at_{k}": self.recall,
                f"{model}_ndcg_at_{k}": self.ndcg, f"{model}_coverage": self.coverage}


def evaluate(rankings: Rankings, relevant: Relevant, *, catalog_size: int, k: int = 10) -> Evaluation:
    """Mean precision, recall and NDCG at `k` over users with relevant deals, and catalog coverage."""
    users = [user for user, deals in relevant.items() if deals]
    if not users:
        return Evaluation(0.0, 0.0, 0.0, coverage(rankings, catalog_size, k), 0)
    n = len(users)
    ranked = {user: rankings.get(user, ()) for user in users}
    return Evaluation(
        precision=sum(precision_at_k(ranked[u], relevant[u], k) for u in users) / n,
        recall=sum(recall_at_k(ranked[u], relevant[u], k) for u in users) / n,
        ndcg=sum(ndcg_at_k(ranked[u], relevant[u], k) for u in users) / n,
        coverage=coverage(rankings, catalog_size, k),
        users=n,
    )
