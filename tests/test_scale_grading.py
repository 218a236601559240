"""The checks of lesson 11's exercises pass right answers and catch typical mistakes."""

import numpy as np
import pytest

from textrec import grading
from textrec.grading import scale_lesson


def fails_with(check, function, hint):
    with pytest.raises(grading.CheckFailed) as failure:
        check(function)
    assert hint in str(failure.value), str(failure.value)


def test_merge_interest_vector_check():
    grading.check_merge_interest_vector(scale_lesson.reference_merge_interest_vector)

    def mean_of_means(sums, counts):
        means = sums[counts > 0] / counts[counts > 0, None]
        return means.mean(axis=0) if len(means) else np.zeros(sums.shape[1])

    def nan_when_empty(sums, counts):
        total = sums.sum(axis=0)
        return total / np.linalg.norm(total)

    fails_with(grading.check_merge_interest_vector, mean_of_means, "weighs a worker with one")
    with np.errstate(invalid="ignore"):
        fails_with(grading.check_merge_interest_vector, nan_when_empty, "zero vector (not NaN)")


def test_ivf_search_check():
    grading.check_ivf_search(scale_lesson.reference_ivf_search)

    def exact(query, vectors, centroids, items, splits, n_probe, k):
        out = np.full(k, -1)
        order = np.argsort(-(vectors @ query), kind="stable")[:k]
        out[:len(order)] = order
        return out

    fails_with(grading.check_ivf_search, exact, "score only the items of the")


def test_recommend_unseen_check():
    grading.check_recommend_unseen(scale_lesson.reference_recommend_unseen)

    def no_fallback(found, seen, scores, k):
        keep = found[(found >= 0) & ~np.isin(found, seen)][:k]
        return np.concatenate([keep, -np.ones(k - len(keep), np.int64)])

    def keeps_seen(found, seen, scores, k):
        keep = found[found >= 0][:k]
        return np.concatenate([keep, -np.ones(k - len(keep), np.int64)])

    fails_with(grading.check_recommend_unseen, no_fallback, "fall back to the exact top-k")
    fails_with(grading.check_recommend_unseen, keeps_seen, "a seen item came back")
