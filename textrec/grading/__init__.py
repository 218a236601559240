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
from textrec.grading.interest_vectors import (
    check_ndcg_at_k,
    check_recency_interest_vector,
    check_recommend_top_k,
)

__all__ = [
    "TASKS",
    "CheckFailed",
    "Task",
    "check_class_weights",
    "check_clean_review_text",
    "check_find_leaky_users",
    "check_leave_last_out",
    "check_masked_mean_pool",
    "check_ndcg_at_k",
    "check_random_deletion",
    "check_recency_interest_vector",
    "check_recommend_top_k",
]
