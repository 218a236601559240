"""The package's own implementation of each exercise task: unavailable in the student's kernel
while the grader calls that task's function (see :mod:`textrec.grading.harness`)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

_REFERENCES: dict[tuple[str, int], tuple[str, ...]] = {
    ("01_data_preparation", 1): ("textrec.data.cleaning.clean_text",),
    ("01_data_preparation", 2): ("textrec.data.splits.leave_last_out",),
    ("01_data_preparation", 3): ("textrec.data.splits.check_leakage",
                                 "textrec.grading.data_preparation.reference_leaky_users"),
    ("02_bert_finetuning", 1): ("textrec.text.pooling.mean_pool",),
    ("02_bert_finetuning", 2): ("textrec.text.sentiment_data.class_weights",
                                "sklearn.utils.class_weight.compute_class_weight"),
    ("02_bert_finetuning", 3): ("textrec.text.augment.random_deletion",),
    ("03_interest_vectors", 1): ("textrec.interests.vectors.recency_weights",
                                 "textrec.grading.interest_vectors.reference_interest_vector"),
    ("03_interest_vectors", 2): ("textrec.evaluation.metrics.ndcg_at_k",
                                 "textrec.grading.interest_vectors.reference_ndcg"),
    ("03_interest_vectors", 3): ("textrec.evaluation.metrics.topk_items",
                                 "textrec.grading.interest_vectors.reference_top_k"),
    ("04_two_tower_retrieval", 1): ("textrec.grading.two_tower_retrieval.reference_in_batch_loss",),
    ("04_two_tower_retrieval", 2): ("textrec.grading.two_tower_retrieval.reference_logq",),
    ("04_two_tower_retrieval", 3): ("textrec.evaluation.metrics.topk_items",
                                    "textrec.grading.two_tower_retrieval.reference_top_k_unseen"),
    ("05_collaborative_filtering_joint_loss", 1): (
        "textrec.grading.joint_loss.reference_predict_ratings",),
    ("05_collaborative_filtering_joint_loss", 2): (
        "textrec.grading.joint_loss.reference_joint_loss",),
    ("05_collaborative_filtering_joint_loss", 3): (
        "textrec.models.neighbours.neighbour_weights", "textrec.models.neighbours.neighbour_scores",
        "textrec.grading.joint_loss.reference_user_cf_scores"),
    ("05_collaborative_filtering_joint_loss", 4): (
        "textrec.models.factorization.ImplicitMatrixFactorization.compute_loss",
        "textrec.models.factorization.ImplicitMatrixFactorization._softmax_losses",
        "textrec.grading.joint_loss.reference_ranking_mf_loss"),
    ("06_evaluation", 1): ("textrec.models.item_based.ease_weights",
                           "textrec.grading.evaluation_lesson.reference_ease_weights"),
    ("06_evaluation", 2): ("textrec.evaluation.uncertainty.bootstrap_ci",
                           "textrec.grading.evaluation_lesson.reference_bootstrap_interval"),
    ("06_evaluation", 3): ("textrec.evaluation.sampled.sampled_ranks",
                           "textrec.grading.evaluation_lesson.reference_target_rank"),
    ("07_privacy_dp_sgd", 1): ("textrec.privacy.dp_sgd.clip_factors",
                               "textrec.grading.privacy_dp_sgd.reference_clip_rows"),
    ("07_privacy_dp_sgd", 2): ("textrec.privacy.pii.luhn_valid",),
    ("07_privacy_dp_sgd", 3): ("textrec.privacy.dp_sgd.clipped_sum",
                               "textrec.grading.privacy_dp_sgd.reference_clipped_sum"),
    ("08_deployment_export", 1): ("textrec.export.tokenizer.frame_pieces",
                                  "textrec.grading.deployment.reference_frame_token_ids"),
    ("08_deployment_export", 2): ("textrec.grading.deployment.reference_live_interest_vector",),
    ("08_deployment_export", 3): (),  # building on mean_pool is allowed: the task is the module
    ("09_explanations_feedback", 1): ("textrec.feedback.explain.cited_review",
                                      "textrec.grading.feedback_lesson.reference_cited_review"),
    ("09_explanations_feedback", 2): ("textrec.feedback.explain.removal_drops",
                                      "textrec.grading.feedback_lesson.reference_removal_drops"),
    ("09_explanations_feedback", 3): (
        "textrec.interests.vectors.weighted_mean_vectors",
        "textrec.grading.feedback_lesson.reference_interest_vector_at"),
    ("10_sequences_and_new_items", 1): ("textrec.models.sequence.causal_attention_mask",
                                        "textrec.grading.sequence_lesson.reference_causal_mask"),
    ("10_sequences_and_new_items", 2): ("textrec.models.sequence.mixture_of_whitenings",
                                        "textrec.grading.sequence_lesson.reference_text_adaptor"),
    ("10_sequences_and_new_items", 3): (
        "textrec.evaluation.new_items.split_new_items",
        "textrec.grading.sequence_lesson.reference_new_item_parts"),
    ("11_beyond_one_machine", 1): ("textrec.scale.embedding.user_row",
                                   "textrec.grading.scale_lesson.reference_merge_interest_vector"),
    ("11_beyond_one_machine", 2): ("textrec.grading.scale_lesson.reference_ivf_search",),
    ("11_beyond_one_machine", 3): ("textrec.models.ann.AnnIndex.recommend",
                                   "textrec.grading.scale_lesson.reference_recommend_unseen"),
}


def references(lesson: str, number: int) -> tuple[str, ...]:
    """The dotted paths of task ``number`` of ``lesson``'s reference functions."""
    return _REFERENCES.get((lesson, number), ())


def resolve(path: str):
    """The object a dotted path names: a module's function, or a class's method
    (``package.module.Class.method``)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(f"no module in the reference {path!r}")


def locations(paths) -> list[tuple[str, str, str, int]]:
    """(path, file path suffix, code name, first line) of each reference's code, so that the
    kernel finds the same function objects however they were imported or copied."""
    found = []
    for path in paths:
        function = inspect.unwrap(resolve(path))
        code = function.__code__
        filename = Path(code.co_filename).as_posix()
        suffix = "/".join(filename.split("/")[-3:])
        found.append((path, suffix, code.co_name, code.co_firstlineno))
    return found
