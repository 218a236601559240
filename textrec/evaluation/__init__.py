"""Evaluation: full-ranking and rating metrics (baselines and reports come later)."""

from textrec.evaluation.metrics import (
    METRIC_NAMES,
    hit_rate_at_k,
    mae,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
    topk_items,
)

__all__ = [
    "METRIC_NAMES",
    "hit_rate_at_k",
    "mae",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "rmse",
    "topk_items",
]
