"""Evaluation: full-ranking metrics, the protocols (new items too), baselines, slices,
beyond-accuracy figures, uncertainty and the results object.

NumPy, SciPy and pandas only: the course's TensorFlow models are wrapped in
:mod:`textrec.pipeline.course_models`.
"""

from textrec.evaluation.baselines import (
    MostPopular,
    item_popularity,
    most_popular_scores,
    random_scores,
)
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
from textrec.evaluation.external import ImplicitALS, ImplicitBPR, implicit_available
from textrec.evaluation.item_based import EASE, ItemKNN, cosine_similarity, ease_weights
from textrec.evaluation.metrics import (
    METRIC_NAMES,
    hit_rate_at_k,
    mae,
    expected_random_metrics,
    map_at_k,
    ndcg_at_k,
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
)
from textrec.evaluation.results import SLICES, EvaluationResults, Run
from textrec.evaluation.sampled import first_targets, sampled_ranking_metrics, sampled_ranks
from textrec.evaluation.slices import (
    activity_bins,
    activity_slices,
    popularity_slices,
    target_popularity_percentile,
)
from textrec.evaluation.text_ease import ReviewText, TextEASE, TextOnly
from textrec.evaluation.tuning import parameter_grid, tune
from textrec.evaluation.uncertainty import (
    bootstrap_ci,
    bootstrap_means,
    paired_test,
    permutation_p_value,
)

__all__ = [
    "BEYOND_NAMES",
    "EASE",
    "FITS",
    "METRIC_NAMES",
    "PARTS",
    "RANDOM",
    "SLICES",
    "EvaluationResults",
    "Evaluator",
    "evaluate_scores",
    "ImplicitALS",
    "ImplicitBPR",
    "InteractionData",
    "ItemKNN",
    "MostPopular",
    "NewItemSplit",
    "ReviewText",
    "Run",
    "TextEASE",
    "TextOnly",
    "activity_bins",
    "activity_slices",
    "beyond_accuracy",
    "bootstrap_ci",
    "bootstrap_means",
    "catalogue_coverage",
    "check_new_item_split",
    "cosine_similarity",
    "ease_weights",
    "expected_random_metrics",
    "evaluate_scores",
    "first_targets",
    "heldout",
    "hit_rate_at_k",
    "implicit_available",
    "interaction_matrix",
    "intra_list_diversity",
    "item_popularity",
    "mae",
    "map_at_k",
    "most_popular_scores",
    "movielens_data",
    "msr_metrics",
    "new_item_split",
    "ndcg_at_k",
    "novelty",
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
