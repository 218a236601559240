"""Exercise checks for learners, and the tools instructors use to grade.

In an exercise notebook, each task ends with a check cell::

    from textrec import grading

    grading.check_leave_last_out(leave_last_out)

which prints a pass line or raises :class:`CheckFailed` with a hint. ``exercises/`` is generated
from ``solutions/`` by :mod:`textrec.grading.exercises` (``textrec exercises``); a folder of
submitted notebooks is graded by :mod:`textrec.grading.grader` (``textrec grade``).
"""

from textrec.grading.bert_finetuning import (
    check_class_weights,
    check_masked_mean_pool,
    check_random_deletion,
)
from textrec.grading.checking import TASKS, CheckFailed, Task
from textrec.grading.data_preparation import (
    check_clean_review_text,
    check_find_leaky_users,
    check_leave_last_out,
)
from textrec.grading.deployment import (
    check_build_serving_module,
    check_frame_token_ids,
    check_live_interest_vector,
)
from textrec.grading.evaluation_lesson import (
    check_bootstrap_interval,
    check_ease_weights,
    check_target_rank,
)
from textrec.grading.feedback_lesson import (
    check_cited_review,
    check_interest_vector_at,
    check_removal_drops,
)
from textrec.grading.interest_vectors import (
    check_ndcg_at_k,
    check_recency_interest_vector,
    check_recommend_top_k,
)
from textrec.grading.joint_loss import (
    check_joint_loss,
    check_predict_ratings,
    check_ranking_mf_loss,
    check_user_cf_scores,
)
from textrec.grading.privacy_dp_sgd import (
    check_clip_rows,
    check_luhn_valid,
    check_noisy_clipped_sum,
)
from textrec.grading.scale_lesson import (
    check_ivf_search,
    check_merge_interest_vector,
    check_recommend_unseen,
)
from textrec.grading.sequence_lesson import (
    check_causal_mask,
    check_new_item_parts,
    check_text_adaptor,
)
from textrec.grading.two_tower_retrieval import (
    check_in_batch_softmax_loss,
    check_logq_correct,
    check_top_k_unseen,
)

__all__ = [
    "TASKS",
    "CheckFailed",
    "Task",
    "check_bootstrap_interval",
    "check_build_serving_module",
    "check_causal_mask",
    "check_cited_review",
    "check_class_weights",
    "check_clean_review_text",
    "check_clip_rows",
    "check_ease_weights",
    "check_find_leaky_users",
    "check_frame_token_ids",
    "check_in_batch_softmax_loss",
    "check_interest_vector_at",
    "check_ivf_search",
    "check_joint_loss",
    "check_leave_last_out",
    "check_live_interest_vector",
    "check_logq_correct",
    "check_luhn_valid",
    "check_new_item_parts",
    "check_merge_interest_vector",
    "check_masked_mean_pool",
    "check_ndcg_at_k",
    "check_noisy_clipped_sum",
    "check_predict_ratings",
    "check_ranking_mf_loss",
    "check_random_deletion",
    "check_recency_interest_vector",
    "check_recommend_top_k",
    "check_recommend_unseen",
    "check_removal_drops",
    "check_target_rank",
    "check_text_adaptor",
    "check_top_k_unseen",
    "check_user_cf_scores",
]
