"""Checks for the exercises of lesson 08, deployment.

Task 1 ``frame_token_ids(pieces, max_length, cls_id, sep_id, pad_id)``: WordPiece ids of each
text -> (ids, mask) [texts, length] with [CLS]/[SEP], truncation and padding.
Task 2 ``live_interest_vector(history_sum, new_vectors)``: a user's interest vector once new
texts are added to the sum of their past review vectors.
Task 3 ``build_serving_module(tokenizer, encoder, item_ids, item_embeddings)``: a ``tf.Module``
with a ``recommend(text, k)`` serving signature that survives ``tf.saved_model.save`` and a
reload.

References: :func:`textrec.export.tokenizer.frame_pieces` (what the export's in-graph tokenizer
does), :func:`textrec.text.pooling.l2_normalize`, and a NumPy pipeline written here.
"""

from __future__ import annotations

import tempfile
import types

import numpy as np

from textrec.grading import wire
from textrec.grading.checking import Cases, check, describe, hidden_rng

LESSON = "08_deployment_export"

# ------------------------------------------------------------------- task 1: frame_token_ids

# CLS = 1, SEP = 2, PAD = 0.
# 1. [[7, 8], [9]], max_length 8: [CLS] 7 8 [SEP] and [CLS] 9 [SEP] [PAD]; masks 1 1 1 1 / 1 1 1 0.
# 2. [[5, 6, 7, 8, 9]], max_length 4: only 4 - 2 = 2 pieces fit: [CLS] 5 6 [SEP].
# 3. [[], [4]], max_length 6: an empty text is [CLS] [SEP]; padded to the longest row (3).
FRAME_CASES = [
    ([[7, 8], [9]], 8, [[1, 7, 8, 2], [1, 9, 2, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]]),
    ([[5, 6, 7, 8, 9]], 4, [[1, 5, 6, 2]], [[1, 1, 1, 1]]),
    ([[], [4]], 6, [[1, 2, 0], [1, 4, 2]], [[1, 1, 0], [1, 1, 1]]),
]


def reference_frame_token_ids(pieces, max_length: int, cls_id: int, sep_id: int, pad_id: int):
    """The export's own framing (``textrec.export.tokenizer.frame_pieces``) on Python lists."""
    import tensorflow as tf

    from textrec.export.tokenizer import frame_pieces

    lengths = [len(row) for row in pieces]
    values = [piece for row in pieces for piece in row]
    ragged = tf.RaggedTensor.from_row_lengths(tf.constant(values, tf.int32, shape=[len(values)]),
                                              tf.constant(lengths, tf.int64))
    ids, mask = frame_pieces(ragged, max_length, cls_id, sep_id, pad_id)
    return ids.numpy(), mask.numpy()


def _frame_hint(pieces, max_length, got_ids, want_ids) -> str:
    if got_ids.shape[0] != want_ids.shape[0]:
        return f"return one row per text ({want_ids.shape[0]}), got {got_ids.shape[0]}"
    if got_ids.shape[1] > max_length:
        return (f"rows are longer than max_length={max_length}: cut each text to max_length - 2 "
                "pieces, so [CLS] and [SEP] still fit")
    if got_ids.shape[1] != want_ids.shape[1]:
        return (f"pad to the longest row of the batch ({want_ids.shape[1]} tokens with [CLS] and "
                f"[SEP]), got {got_ids.shape[1]}")
    if not np.array_equal(got_ids[:, 0], want_ids[:, 0]):
        return "every row starts with cls_id"
    return f"expected ids {want_ids.tolist()}, got {got_ids.tolist()}"


@check(LESSON, 1, "frame_token_ids", "[CLS]/[SEP], truncation and padding around WordPiece ids")
def check_frame_token_ids(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", p, m, np.array(i), np.array(k))
             for n, (p, m, i, k) in enumerate(FRAME_CASES)]
    rng = hidden_rng(808)
    for number in range(6):
        pieces = [rng.integers(5, 100, size=int(rng.integers(0, 12))).tolist()
                  for _ in range(int(rng.integers(1, 6)))]
        max_length = int(rng.integers(2, 12))
        ids, mask = reference_frame_token_ids(pieces, max_length, 1, 2, 0)
        given.append((f"hidden case {number + 1}", pieces, max_length, ids, mask))
    for case, pieces, max_length, want_ids, want_mask in given:
        result = cases.call([list(row) for row in pieces], max_length, 1, 2, 0, case=case)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise cases.fail(f"{case}: return a pair (ids, mask), got {describe(result, 80)}")
        try:
            got_ids, got_mask = (np.asarray(part) for part in result)
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: ids and mask must be arrays of equal-length rows") from None
        if got_ids.shape != want_ids.shape or not np.array_equal(got_ids, want_ids):
            raise cases.fail(f"{case}: " + _frame_hint(pieces, max_length, got_ids, want_ids))
        if got_mask.shape != want_mask.shape or not np.array_equal(got_mask, want_mask):
            raise cases.fail(f"{case}: the mask is 1 for every real token, [CLS] and [SEP] "
                             f"included, and 0 for padding: expected {want_mask.tolist()}, got "
                             f"{got_mask.tolist()}")
        cases.passed()


# -------------------------------------------------------------- task 2: live_interest_vector

# 1. history (3, 0) plus one new vector (0, 4): the sum (3, 4) has length 5 -> (0.6, 0.8).
# 2. Nothing at all: (0, 0) plus (0, 0) stays zeros (no direction to normalise).
# 3. No new text: (1, 1) alone -> (0.7071, 0.7071).
# 4. A long history (10, 0) and one new review (0, 1): the sum (10, 1) -> (0.9950, 0.0995);
#    one review moves ten reviews' worth of history only a little.
LIVE_CASES = [
    ([3.0, 0.0], [[0.0, 4.0]], [0.6, 0.8]),
    ([0.0, 0.0], [[0.0, 0.0]], [0.0, 0.0]),
    ([1.0, 1.0], np.zeros((0, 2)), [0.70710678, 0.70710678]),
    ([10.0, 0.0], [[0.0, 1.0]], [0.99503719, 0.09950372]),
]


def reference_live_interest_vector(history_sum, new_vectors) -> np.ndarray:
    from textrec.text.pooling import l2_normalize

    total = np.asarray(history_sum, np.float64) + np.asarray(new_vectors, np.float64).reshape(
        -1, len(history_sum)).sum(axis=0)
    return l2_normalize(total[None, :]).numpy()[0]


def _unit(vector) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 1e-12 else np.zeros_like(vector)


def _live_hint(history, new, got, expected) -> str:
    new = np.asarray(new, float).reshape(-1, len(history))
    if np.allclose(got, _unit(_unit(np.asarray(history, float)) + new.sum(axis=0)), atol=1e-5):
        return ("history_sum is the sum of all past review vectors: normalising it first gives the "
                "whole history the weight of one review. Add first, normalise once")
    if np.allclose(got, np.asarray(history, float) + new.sum(axis=0), atol=1e-5):
        return "scale the sum to unit length"
    if np.any(~np.isfinite(got)):
        return "a zero sum must give a zero vector, not NaN (check the norm before dividing)"
    return f"expected {np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}"


@check(LESSON, 2, "live_interest_vector", "adding new texts to a user's interest vector")
def check_live_interest_vector(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(LIVE_CASES)]
    rng = hidden_rng(88)
    for number in range(6):
        dim = int(rng.integers(2, 9))
        history = rng.normal(size=dim) * float(rng.integers(1, 20))
        new = rng.normal(size=(int(rng.integers(0, 4)), dim))
        given.append((f"hidden case {number + 1}", history, new,
                      reference_live_interest_vector(history, new)))
    for case, history, new, expected in given:
        history = np.asarray(history, np.float32)
        new = np.asarray(new, np.float32).reshape(-1, len(history))
        result = cases.call(history.copy(), new.copy(), case=case)
        try:
            got = np.asarray(result, float).reshape(-1)
        except (TypeError, ValueError):
            raise cases.fail(f"{case}: return a vector, got {describe(result, 80)}") from None
        if got.shape != (len(history),):
            raise cases.fail(f"{case}: return one vector of {len(history)} numbers, got shape "
                             f"{list(np.shape(result))}")
        if not np.allclose(got, expected, atol=1e-5):
            raise cases.fail(f"{case}: " + _live_hint(history, new, got, np.asarray(expected)))
        cases.passed()


# ------------------------------------------------------------- task 3: build_serving_module

TINY_WORDS = ["strings", "guitar", "bright", "warm", "tone", "cable", "pedal", "noise", "tuner",
              "drum", "sticks", "great", "cheap", "broke", "love"]
TINY_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *TINY_WORDS]


def tiny_encoder(dim: int = 6, seed: int = 8):
    """A stand-in encoder with the transformers call convention: ``encoder(inputs)`` with
    ``input_ids``, ``attention_mask`` (and ``token_type_ids``) -> ``.last_hidden_state``."""
    import tensorflow as tf

    class TinyEncoder(tf.Module):
        def __init__(self):
            super().__init__()
            table = np.random.default_rng(seed).normal(size=(len(TINY_VOCABULARY), dim))
            self.table = tf.Variable(table.astype(np.float32), trainable=False)

        def __call__(self, inputs, training=False):
            ids = inputs["input_ids"]
            positions = tf.cast(tf.range(tf.shape(ids)[1]), tf.float32)[None, :, None]
            return types.SimpleNamespace(
                last_hidden_state=tf.gather(self.table, ids) * (1.0 + 0.1 * positions))

    return TinyEncoder()


def _reference_recommend(tokenizer, encoder, item_ids, item_embeddings, texts, k):
    import tensorflow as tf

    ids, mask = tokenizer(tf.constant(texts))
    hidden = encoder({"input_ids": ids, "attention_mask": mask}).last_hidden_state.numpy()
    mask = mask.numpy()[:, :, None].astype(np.float64)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-7)
    vectors = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    scores = vectors @ np.asarray(item_embeddings, np.float64).T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.asarray(item_ids, object)[top], np.take_along_axis(scores, top, axis=1)


def _save_and_reload(cases: Cases, module, case: str):
    """The reloaded ``recommend`` signature of ``module``: saved here, or, when the grader
    checks a student's kernel, saved there (a :class:`~textrec.grading.wire.SavedModule`)."""
    import tensorflow as tf

    saved = module if isinstance(module, wire.SavedModule) else None
    recommend = None if saved else getattr(module, "recommend", None)
    if (saved and saved.missing) or (not saved and recommend is None):
        raise cases.fail(f"{case}: the module needs a `recommend` method (a tf.function)")
    error, folder = None, saved.path if saved else tempfile.mkdtemp(prefix="textrec-check-")
    if saved:
        error = saved.save_error
    else:
        try:
            tf.saved_model.save(module, folder, signatures={"recommend": recommend})
        except (ValueError, TypeError) as failure:
            error = str(failure)
    if error is not None or folder is None:
        raise cases.fail(
            f"{case}: tf.saved_model.save could not make a signature of `recommend` ({error}). "
            "Decorate it with @tf.function(input_signature=[...]) giving a string TensorSpec of "
            "shape [None] for the texts and an int32 TensorSpec of shape [] for k") from None
    return tf.saved_model.load(folder).signatures["recommend"]


@check(LESSON, 3, "build_serving_module", "a serving signature that survives save and reload")
def check_build_serving_module(cases: Cases) -> None:
    import tensorflow as tf

    from textrec.export.tokenizer import GraphTokenizer

    rng = hidden_rng(8)
    tokenizer = wire.remote_as(GraphTokenizer(TINY_VOCABULARY, max_length=8), GraphTokenizer,
                               TINY_VOCABULARY, max_length=8)
    encoder = wire.remote_as(tiny_encoder(), tiny_encoder)
    item_ids = [f"item-{n}" for n in range(12)]
    item_embeddings = rng.normal(size=(12, 6)).astype(np.float32)
    module = cases.call(tokenizer, encoder, item_ids, item_embeddings, case="the tiny catalogue")
    if not isinstance(module, (tf.Module, wire.SavedModule)):
        name = getattr(module, "type_name", type(module).__name__)
        raise cases.fail(f"return a tf.Module (so its variables are saved), got {name}")
    signature = _save_and_reload(cases, module, "saving it")
    names = set(signature.structured_input_signature[1])
    if names != {"text", "k"}:
        raise cases.fail(f"`recommend` should take two arguments named text and k, got "
                         f"{sorted(names)}")
    # Rows of different lengths, so that padding shows up.
    queries = [["bright strings"], ["warm tone cable great", "drum sticks"],
               [" ".join(rng.choice(TINY_WORDS, size=size)) for size in (9, 1, 4)]]
    for number, (texts, k) in enumerate(zip(queries, (3, 5, 12))):
        case = f"query batch {number + 1} (k={k}) after reloading"
        try:
            outputs = signature(text=tf.constant(texts), k=tf.constant(k, tf.int32))
        except Exception as error:  # noqa: BLE001 (the learner's graph)
            raise cases.fail(f"{case}: the reloaded signature raised {type(error).__name__}: "
                             f"{str(error)[:200]}") from None
        if set(outputs) != {"item_ids", "scores"}:
            raise cases.fail(
                f"{case}: return a dict with item_ids and scores, got {sorted(outputs)}"
            )
        want_ids, want_scores = _reference_recommend(tokenizer, encoder, item_ids,
                                                     item_embeddings, texts, k)
        got_ids = np.vectorize(lambda b: b.decode(), otypes=[object])(outputs["item_ids"].numpy())
        got_scores = outputs["scores"].numpy()
        if got_ids.shape != want_ids.shape:
            raise cases.fail(f"{case}: item_ids should have shape {list(want_ids.shape)} "
                             f"[texts, k], got {list(got_ids.shape)}")
        if not np.allclose(got_scores, want_scores, atol=1e-4):
            raise cases.fail(
                f"{case}: scores differ (expected {np.round(want_scores[0], 3).tolist()}, got "
                f"{np.round(got_scores[0], 3).tolist()}). Mean-pool over real tokens only (the "
                "mask), scale each vector to unit length, then take dot products with the items")
        if not np.array_equal(got_ids, want_ids):
            raise cases.fail(f"{case}: the scores are right but the items are not: return the "
                             "ids of the top-k columns, best first")
        cases.passed()
