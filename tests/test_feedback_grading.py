"""The checks of lesson 09's exercises pass right answers and catch typical mistakes."""

import numpy as np
import pytest

from textrec import grading
from textrec.grading import feedback_lesson


def fails_with(check, function, hint):
    with pytest.raises(grading.CheckFailed) as failure:
        check(function)
    assert hint in str(failure.value), str(failure.value)


def test_cited_review_check():
    grading.check_cited_review(feedback_lesson.reference_cited_review)

    def unweighted(vectors, weights, item):
        return int(np.argmax(vectors @ item))

    def zero_rows_allowed(vectors, weights, item):
        values = weights * (vectors @ item)
        return int(np.argmax(values)) if np.any(vectors) else -1

    fails_with(grading.check_cited_review, unweighted, "multiply each review's r . v by its weight")
    fails_with(grading.check_cited_review, zero_rows_allowed, "may not be cited")


def test_removal_drops_check():
    grading.check_removal_drops(feedback_lesson.reference_removal_drops)
    fails_with(grading.check_removal_drops,
               lambda vectors, item: -feedback_lesson.reference_removal_drops(vectors, item),
               "not the reverse")

    def not_normalised(vectors, item):
        total = vectors.sum(axis=0)
        return total @ item - (total - vectors) @ item

    fails_with(grading.check_removal_drops, not_normalised, "scale u to unit length")


def test_interest_vector_at_check():
    grading.check_interest_vector_at(feedback_lesson.reference_interest_vector_at)

    def reads_the_present(vectors, timestamps, time):
        return feedback_lesson.reference_interest_vector_at(vectors, timestamps, time + 0.5)

    def nan_when_empty(vectors, timestamps, time):
        summed = vectors[timestamps < time].sum(axis=0)
        return summed / np.linalg.norm(summed)

    fails_with(grading.check_interest_vector_at, reads_the_present, "leakage")
    with np.errstate(invalid="ignore"):
        fails_with(grading.check_interest_vector_at, nan_when_empty, "zero vector (not NaN)")
