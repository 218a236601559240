"""Evaluation: the protocols (new items too), full-ranking metrics, references (a random
ranking's expected value), slices, beyond-accuracy figures, uncertainty, tuning and the results
object.

It judges score matrices and knows no model: every model, the closed-form baselines (most
popular, item-kNN, EASE, EASE with text) included, lives in :mod:`textrec.models`; the harness
(:class:`Evaluator`, :func:`tune`) takes any object with ``fit(X)`` and ``score(history)``.
NumPy, SciPy and pandas only.
"""

from textrec.evaluation.beyond_accuracy import (
    BEYOND_NAMES,
    beyond_accuracy,
    catalogue_coverage,
    intra_list_diversity,
    novelty,
    popularity_bias,
    popularity_percentiles,
)
from textrec.evaluation.evaluator import RANDOM, Evaluator, per_user_metrics
from textrec.evaluation.metrics import (
    METRIC_NAMES,
    hit_rate_at_k,
    mae,
    expected_random_metrics,
    map_at_k,
    ndcg_at_k,
    random_scores,
    ranking_metrics,
    rmse,
    topk_items,
)
from textrec.evaluation.movielens_protocol import (
    movielens_data,
    msr_metrics,
    run_movielens_benchmark,
    stratified_split,
)
from textrec.evaluation.new_items import (
    NewItemSplit,
    check_new_item_split,
    new_item_split,
    split_new_items,
)
from textrec.evaluation.protocol import (
    FITS,
    PARTS,
    InteractionData,
    evaluate_scores,
    heldout,
    interaction_matrix,
    random_reference,
    validation_ndcg,
)
from textrec.evaluation.results import SLICES, EvaluationResults, Run
from textrec.evaluation.sampled import first_targets, sampled_ranking_metrics, sampled_ranks
from textrec.evaluation.slices import (
    activity_bins,
    activity_slices,
    popularity_slices,
    target_popularity_percentile,
)
from textrec.evaluation.tuning import parameter_grid, tune
from textrec.evaluation.uncertainty import (
    bootstrap_ci,
    bootstrap_means,
    paired_bootstrap,
    paired_test,
    permutation_p_value,
)

__all__ = [
    "BEYOND_NAMES",
    "FITS",
    "METRIC_NAMES",
    "PARTS",
    "RANDOM",
    "SLICES",
    "EvaluationResults",
    "Evaluator",
    "evaluate_scores",
    "InteractionData",
    "NewItemSplit",
    "Run",
    "activity_bins",
    "activity_slices",
    "beyond_accuracy",
    "bootstrap_ci",
    "bootstrap_means",
    "catalogue_coverage",
    "check_new_item_split",
    "expected_random_metrics",
    "evaluate_scores",
    "first_targets",
    "heldout",
    "validation_ndcg",
    "hit_rate_at_k",
    "interaction_matrix",
    "intra_list_diversity",
    "mae",
    "map_at_k",
    "movielens_data",
    "msr_metrics",
    "new_item_split",
    "ndcg_at_k",
    "novelty",
    "paired_bootstrap",
    "paired_test",
    "parameter_grid",
    "per_user_metrics",
    "permutation_p_value",
    "popularity_bias",
    "popularity_percentiles",
    "popularity_slices",
    "random_reference",
    "random_scores",
    "ranking_metrics",
    "rmse",
    "run_movielens_benchmark",
    "sampled_ranking_metrics",
    "sampled_ranks",
    "split_new_items",
    "stratified_split",
    "target_popularity_percentile",
    "topk_items",
    "tune",
]
