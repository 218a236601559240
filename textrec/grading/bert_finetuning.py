"""Checks for the exercises of lesson 02, fine-tuning BERT on review sentiment.

Task 1 ``masked_mean_pool(token_embeddings, attention_mask)``: masked mean pooling in TensorFlow.
Task 2 ``class_weights(labels)``: balanced class weights for Keras ``fit``.
Task 3 ``random_deletion(text, p, seed)``: seeded word-deletion augmentation.

References: :func:`textrec.text.pooling.mean_pool`; scikit-learn's
``compute_class_weight("balanced")`` (what ``textrec.text.finetune.class_weights`` computes);
for deletion, the expected share of deleted words under the task's rules.
"""

from __future__ import annotations

import random

import numpy as np

from textrec.grading.checking import Cases, check, describe, hidden_rng

LESSON = "02_bert_finetuning"

# ------------------------------------------------------------------ task 1: masked_mean_pool

# Text 1: tokens (1, 2) and (3, 4) are real, (100, 100) is padding -> mean (2, 3).
# Text 2: all three tokens are real -> ((2+4+6)/3, (0+0+3)/3) = (4, 1).
POOL_EMBEDDINGS = [[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                   [[2.0, 0.0], [4.0, 0.0], [6.0, 3.0]]]
POOL_MASK = [[1, 1, 0], [1, 1, 1]]
POOL_EXPECTED = [[2.0, 3.0], [4.0, 1.0]]
# A text with no real token at all (an empty review after truncation): zeros, not NaN.
EMPTY_EMBEDDINGS = [[[5.0, 5.0], [7.0, 7.0]]]
EMPTY_MASK = [[0, 0]]


def _as_array(cases: Cases, result, shape, case: str) -> np.ndarray:
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise cases.fail(
            f"{case}: return a tensor of shape [batch, hidden], got {describe(result, 80)}"
        ) from None
    if array.shape != tuple(shape):
        raise cases.fail(f"{case}: expected shape [batch, hidden] = {list(shape)}, got "
                         f"{list(array.shape)}: average over the token axis (axis 1)")
    return array


def _pool_hint(embeddings, mask, got: np.ndarray, expected: np.ndarray) -> str:
    embeddings, mask = np.asarray(embeddings, float), np.asarray(mask, float)
    if np.isnan(got).any():
        return ("a text with no real token gave NaN: keep the token count away from zero (e.g. "
                "tf.maximum(count, 1e-9)) so such a text gets a zero vector")
    if np.allclose(got, embeddings.mean(axis=1)):
        return ("the padding tokens were averaged in: multiply by the mask before summing, and "
                "divide by the number of real tokens")
    masked_sum = (embeddings * mask[:, :, None]).sum(axis=1)
    if np.allclose(got, masked_sum / embeddings.shape[1]):
        return ("you divided by the sequence length; divide by the number of real tokens of "
                "each text (the sum of its mask)")
    if np.allclose(got, masked_sum):
        return "that is the masked sum; divide it by the number of real tokens of each text"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


def _random_pool_case(rng: np.random.Generator):
    batch, length, hidden = (
        int(rng.integers(1, 6)),
        int(rng.integers(1, 9)),
        int(rng.integers(1, 7)),
    )
    embeddings = rng.normal(size=(batch, length, hidden)).astype("float32")
    if rng.random() < 0.7:  # padding at the end, as a tokenizer makes it
        lengths = rng.integers(0, length + 1, size=batch)
        mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    else:
        mask = (rng.random((batch, length)) < 0.6).astype("int32")
    return embeddings, mask


@check(LESSON, 1, "masked_mean_pool", "masked mean pooling skips padding")
def check_masked_mean_pool(cases: Cases) -> None:
    import tensorflow as tf

    from textrec.text.pooling import mean_pool

    given = [("the task's example", POOL_EMBEDDINGS, POOL_MASK, POOL_EXPECTED),
             ("a text with no real token", EMPTY_EMBEDDINGS, EMPTY_MASK, [[0.0, 0.0]])]
    rng = hidden_rng(404)
    for number in range(8):
        embeddings, mask = _random_pool_case(rng)
        given.append(
            (f"hidden case {number + 1}", embeddings, mask, mean_pool(embeddings, mask).numpy())
        )
    for case, embeddings, mask, expected in given:
        expected = np.asarray(expected, float)
        result = cases.call(
            tf.constant(embeddings, tf.float32), tf.constant(mask, tf.int32), case=case
        )
        got = _as_array(cases, result, expected.shape, case)
        if not np.allclose(got, expected, atol=1e-4):
            raise cases.fail(f"{case}: " + _pool_hint(embeddings, mask, got, expected))
        cases.passed()


# -------------------------------------------------------------------- task 2: class_weights

# [1, 1, 1, 0]: n = 4, 2 classes; class 0 once -> 4 / (2 * 1) = 2.0, class 1 three times ->
# 4 / (2 * 3) = 0.6667. [0, 1, 2, 2]: n = 4, 3 classes -> 4/3, 4/3, 4/6.
WEIGHT_CASES = [([1, 1, 1, 0], {0: 2.0, 1: 4 / 6}),
                ([0, 1, 2, 2], {0: 4 / 3, 1: 4 / 3, 2: 4 / 6}),
                ([1, 0, 1, 0], {0: 1.0, 1: 1.0})]


def _weights_hint(labels, got: dict, expected: dict) -> str:
    labels = np.asarray(labels)
    n, classes = len(labels), sorted(expected)
    count = {c: int((labels == c).sum()) for c in classes}
    values = {c: float(got[c]) for c in classes}
    close = lambda formula: all(np.isclose(values[c], formula(c)) for c in classes)  # noqa: E731
    if close(lambda c: count[c] / n):
        return ("rare classes must weigh more, not less: the weight should fall as the class "
                "count grows")
    if close(lambda c: n / count[c]):
        return ("close: balanced weights also divide by the number of classes, so that the "
                "weights times the counts add up to n")
    if close(lambda c: 1 / count[c]):
        return f"scale 1 / count so that the weights times the counts add up to n (here n = {n})"
    return f"for labels {describe(labels.tolist(), 60)} expected {expected}, got {got}"


def _as_weights(cases: Cases, result, classes, case: str) -> dict:
    if not isinstance(result, dict):
        raise cases.fail(
            f"{case}: return a dict {{class: weight}}, as Keras' fit(class_weight=...) "
            f"wants, got {describe(result, 80)}"
        )
    keys = set(result)
    if keys != set(classes):
        raise cases.fail(
            f"{case}: the keys should be the classes found in labels, {sorted(classes)}, "
            f"as ints; got {sorted(keys, key=str)}"
        )
    return result


@check(LESSON, 2, "class_weights", "balanced class weights, n / (n_classes * count)")
def check_class_weights(cases: Cases) -> None:
    from sklearn.utils.class_weight import compute_class_weight

    given = [(f"labels {labels}", labels, expected) for labels, expected in WEIGHT_CASES]
    given.append(("labels as a NumPy array", np.array([0, 0, 0, 0, 1]), {0: 5 / 8, 1: 5 / 2}))
    rng = hidden_rng(505)
    for number in range(10):
        n_classes = int(rng.integers(2, 5))
        labels = rng.choice(n_classes, size=int(rng.integers(n_classes, 60)),
                            p=rng.dirichlet(np.ones(n_classes)))
        labels[:n_classes] = np.arange(n_classes)  # every class at least once
        classes = np.unique(labels)
        weights = compute_class_weight("balanced", classes=classes, y=labels)
        given.append((f"hidden case {number + 1}", labels, dict(zip(classes.tolist(), weights))))
    for case, labels, expected in given:
        got = _as_weights(cases, cases.call(labels, case=case), expected, case)
        if not all(np.isclose(float(got[c]), w) for c, w in expected.items()):
            raise cases.fail(f"{case}: " + _weights_hint(labels, got, expected))
        cases.passed()


# ------------------------------------------------------------------- task 3: random_deletion

SENTENCE = "the tuner holds pitch well but the case feels cheap and flimsy"
LONG_TEXT = " ".join(f"w{i}" for i in range(40))


def expected_deleted_share(n_words: int, p: float, trials: int = 4000, seed: int = 0) -> float:
    """The mean share of words deleted under the task's rules (drop each word with
    probability p; when none is left, keep one at random), by simulation."""
    rng = np.random.default_rng(seed)
    kept = (rng.random((trials, n_words)) >= p).sum(axis=1)
    kept = np.maximum(kept, 1)
    return float(1 - kept.mean() / n_words)


def _is_subsequence(words: list[str], of: list[str]) -> bool:
    remaining = iter(of)
    return all(word in remaining for word in words)


def _deletion_output(cases: Cases, text: str, p: float, seed: int) -> list[str]:
    result = cases.call(text, p, seed, case=f"({describe(text, 40)}, p={p}, seed={seed})")
    return _deletion_words(cases, result)


def _deletion_words(cases: Cases, result) -> list[str]:
    if not isinstance(result, str):
        raise cases.fail(f"return the shortened text as a str, got {describe(result, 80)}")
    return result.split()


def _check_deletion_rules(cases: Cases) -> None:
    words = SENTENCE.split()
    if _deletion_output(cases, "", 0.5, 0) != []:
        raise cases.fail("an empty text should give an empty text")
    if _deletion_output(cases, SENTENCE, 0.0, 3) != words:
        raise cases.fail("with p=0 nothing is deleted: the text should come back unchanged")
    for seed in range(5):
        out = _deletion_output(cases, SENTENCE, 1.0, seed)
        if len(out) != 1 or out[0] not in words:
            raise cases.fail(f"with p=1 every word is dropped, so exactly one word should be kept "
                             f"(one of the text's words); got {describe(' '.join(out))}")
    if _deletion_output(cases, "great", 0.9, 1) != ["great"]:
        raise cases.fail("a one-word text should come back as it is")
    cases.passed(4)
    first = int(hidden_rng(3).integers(0, 10_000))
    calls = [(SENTENCE, 0.3, first + seed) for seed in range(20)]
    for result in cases.call_all(calls, case=f"({describe(SENTENCE, 40)}, p=0.3, 20 seeds)"):
        out = _deletion_words(cases, result)
        if not _is_subsequence(out, words):
            raise cases.fail(f"the kept words must be words of the text, in their order; got "
                             f"{describe(' '.join(out))}")
    cases.passed()


def _check_deletion_randomness(cases: Cases) -> None:
    first = _deletion_output(cases, SENTENCE, 0.3, 7)
    if _deletion_output(cases, SENTENCE, 0.3, 7) != first:
        raise cases.fail("the same seed must give the same text: make the generator from the seed")
    results = cases.call_all([(SENTENCE, 0.3, seed) for seed in range(20)],
                             case=f"({describe(SENTENCE, 40)}, p=0.3, seeds 0 to 19)")
    outputs = {" ".join(_deletion_words(cases, result)) for result in results}
    if len(outputs) < 5:
        raise cases.fail(f"20 different seeds gave only {len(outputs)} different texts: does the "
                         "seed reach the random generator?")
    cases.passed(2)
    random.seed(123)
    np.random.seed(123)
    before = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    _deletion_output(cases, SENTENCE, 0.3, 11)
    if (random.random(), np.random.random()) != before:
        raise cases.fail(
            "it changed the global random state (random.seed or np.random.seed): use a "
            "generator of its own, random.Random(seed) or np.random.default_rng(seed), "
            "so augmenting does not change other code's random numbers"
        )
    cases.passed()


@check(LESSON, 3, "random_deletion",
       "seeded random deletion keeps order, one word at least, share p")
def check_random_deletion(cases: Cases) -> None:
    _check_deletion_rules(cases)
    _check_deletion_randomness(cases)
    n_words = len(LONG_TEXT.split())
    for text, p in ((LONG_TEXT, 0.25), (LONG_TEXT, 0.6), ("a b c", 0.8)):
        n = len(text.split())
        first = int(hidden_rng(33).integers(0, 10_000))
        results = cases.call_all([(text, p, first + seed) for seed in range(300)],
                                 case=f"({describe(text, 40)}, p={p}, 300 seeds)")
        deleted = [1 - len(_deletion_words(cases, result)) / n for result in results]
        expected = expected_deleted_share(n, p)
        spread = 0.05 if n == n_words else 0.08
        if abs(np.mean(deleted) - expected) > spread:
            raise cases.fail(
                f"with p={p} about {expected:.0%} of the words of a {n}-word text should "
                f"go on average; over 300 seeds {np.mean(deleted):.0%} went. Is each word "
                "dropped with probability p, independently?"
            )
        cases.passed()
