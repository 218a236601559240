"""Checks for the exercises of lesson 07, privacy: scrubbing and DP-SGD.

Task 1 ``clip_rows(gradients, clip_norm)``: each row (one example's gradient) scaled down to
L2 norm at most ``clip_norm``, rows already below it unchanged.
Task 2 ``luhn_valid(digits)``: the Luhn checksum of a card number.
Task 3 ``noisy_clipped_sum(gradients, clip_norm, noise_multiplier, seed)``: the sum of the
clipped rows plus Gaussian noise of standard deviation ``noise_multiplier * clip_norm``.

References: :func:`textrec.privacy.dp_sgd.clip_factors` and
:func:`textrec.privacy.dp_sgd.clipped_sum` (what DP-SGD in the lesson runs), and
:func:`textrec.privacy.pii.luhn_valid`.
"""

from __future__ import annotations

import numpy as np

from textrec.grading.checking import Cases, as_array, check, describe, hidden_rng
from textrec.privacy import pii

LESSON = "07_privacy_dp_sgd"


def reference_clip_rows(gradients, clip_norm: float) -> np.ndarray:
    import tensorflow as tf

    from textrec.privacy import dp_sgd

    g = tf.constant(np.asarray(gradients, np.float64))
    factors = dp_sgd.clip_factors(dp_sgd.global_norms([g]), clip_norm)
    return (factors[:, None] * g).numpy()


def reference_clipped_sum(gradients, clip_norm: float) -> np.ndarray:
    import tensorflow as tf

    from textrec.privacy import dp_sgd

    summed, _ = dp_sgd.clipped_sum([tf.constant(np.asarray(gradients, np.float64))], clip_norm)
    return summed[0].numpy()


# ------------------------------------------------------------------------ task 1: clip_rows

# C = 1: (3, 4) has norm 5 -> (0.6, 0.8); (0.3, 0.4) has norm 0.5 -> unchanged; (0, 0) stays 0.
CLIP_CASES = [
    ([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], 1.0, [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]]),
    ([[0.0, 10.0, 0.0], [2.0, 0.0, 0.0]], 2.0, [[0.0, 2.0, 0.0], [2.0, 0.0, 0.0]]),
]


def _clip_hint(g: np.ndarray, c: float, got: np.ndarray) -> str:
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    if not np.all(np.isfinite(got)):
        return "a zero gradient gave NaN: divide by max(norm, C), not by the norm"
    if np.allclose(got, np.clip(g, -c, c), atol=1e-5):
        return "each value was clipped on its own: scale the whole row, so its L2 norm is at most C"
    if np.allclose(got, g * min(1.0, c / np.linalg.norm(g)), atol=1e-5):
        return "the whole matrix was clipped as one: clip each row (one example) by its own norm"
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.allclose(got, np.nan_to_num(g * c / norms), atol=1e-5):
            return "a row already shorter than C should stay unchanged: scale by min(1, C / norm)"
    expected = np.round(reference_clip_rows(g, c), 4).tolist()
    return f"expected {expected}, got {np.round(got, 4).tolist()}"


@check(LESSON, 1, "clip_rows", "per-example L2 clipping")
def check_clip_rows(cases: Cases) -> None:
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(CLIP_CASES)]
    rng = hidden_rng(707)
    for number in range(6):
        n, dim = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        g = rng.normal(size=(n, dim)) * rng.uniform(0.05, 3, size=(n, 1))
        c = float(rng.uniform(0.5, 2.0))
        given.append((f"hidden case {number + 1}", g, c, reference_clip_rows(g, c)))
    for case, g, c, expected in given:
        g, expected = np.asarray(g, np.float32), np.asarray(expected, float)
        got = as_array(cases, case, cases.call(g.copy(), c, case=case), expected.shape)
        if not np.allclose(got, expected, atol=1e-5):
            raise cases.fail(f"{case}: " + _clip_hint(g.astype(float), c, got))
        cases.passed()


# ----------------------------------------------------------------------- task 2: luhn_valid

# 4539 1488 0343 6467 (a made-up Visa number) and 378282246310005 (Amex's test number, 15
# digits: an odd length, where doubling from the left goes wrong) are valid; changing one
# digit or swapping two breaks the checksum.
LUHN_CASES = [
    ("4539148803436467", True),
    ("4539148803436468", False),
    ("378282246310005", True),
    ("378282246310050", False),
    ("79927398713", True),
    ("79927398710", False),
    ("0", True),
    ("18", True),
]


def _luhn_from_left(digits: str) -> bool:
    total = 0
    for position, char in enumerate(digits):
        value = int(char) * (2 if position % 2 == 0 else 1)  # from the first digit
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _luhn_no_nine(digits: str) -> bool:
    total = sum(int(ch) * (2 if i % 2 == 1 else 1) for i, ch in enumerate(reversed(digits)))
    return total % 10 == 0


def _luhn_hint(digits: str, got) -> str:
    expected = pii.luhn_valid(digits)
    if got == _luhn_from_left(digits) and got != expected:
        return "count positions from the right: the check digit (the last one) is never doubled"
    if got == _luhn_no_nine(digits) and got != expected:
        return "a doubled digit above 9 counts as the sum of its digits (subtract 9)"
    return f"{digits!r} should be {'valid' if expected else 'invalid'}"


@check(LESSON, 2, "luhn_valid", "the Luhn checksum of card numbers")
def check_luhn_valid(cases: Cases) -> None:
    given = [(f"the task's example {digits!r}", digits) for digits, _ in LUHN_CASES]
    rng = hidden_rng(7)
    for number in range(24):
        body = "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(12, 19))))
        for check_digit in "0123456789":  # exactly one completes a valid number
            if pii.luhn_valid(body + check_digit):
                break
        digits = body + (check_digit if number % 2 == 0 else str((int(check_digit) + 3) % 10))
        given.append((f"hidden number {digits!r}", digits))
    for case, digits in given:
        got = cases.call(digits, case=case)
        if not isinstance(got, (bool, np.bool_)):
            raise cases.fail(f"{case}: return True or False, got {describe(got, 80)}")
        if bool(got) != pii.luhn_valid(digits):
            raise cases.fail(f"{case}: " + _luhn_hint(digits, bool(got)))
        cases.passed()


# ---------------------------------------------------------------- task 3: noisy_clipped_sum

# With noise_multiplier 0 the result is exactly the clipped sum: rows (3, 4) and (0.3, 0.4), C = 1:
# (0.6, 0.8) + (0.3, 0.4) = (0.9, 1.2).
SUM_CASES = [([[3.0, 4.0], [0.3, 0.4]], 1.0, [0.9, 1.2])]


@check(LESSON, 3, "noisy_clipped_sum", "clipped sum plus seeded Gaussian noise of std z * C")
def check_noisy_clipped_sum(cases: Cases) -> None:
    rng = hidden_rng(77)
    given = [(f"the task's example {n + 1}", *case) for n, case in enumerate(SUM_CASES)]
    for number in range(4):
        n, dim = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        g = rng.normal(size=(n, dim)) * rng.uniform(0.05, 3, size=(n, 1))
        c = float(rng.uniform(0.5, 2.0))
        given.append((f"hidden case {number + 1}", g, c, reference_clipped_sum(g, c)))
    for case, g, c, expected in given:  # no noise: the clipped sum exactly
        g, expected = np.asarray(g, np.float32), np.asarray(expected, float)
        got = as_array(cases, case + " with noise_multiplier=0",
                     cases.call(g.copy(), c, 0.0, 0, case=case), expected.shape)
        if not np.allclose(got, expected, atol=1e-5):
            if np.allclose(got, g.sum(axis=0), atol=1e-5):
                raise cases.fail(
                    f"{case}: with noise_multiplier=0 that is the unclipped sum: clip each "
                    "row to norm C first"
                )
            if np.allclose(got, expected / len(g), atol=1e-5):
                raise cases.fail(
                    f"{case}: that is the mean; return the sum (the optimiser divides later)"
                )
            raise cases.fail(f"{case}: with noise_multiplier=0 expected the clipped sum "
                             f"{np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}")
        cases.passed()
    # The noise: many coordinates, so its standard deviation can be measured.
    g = rng.normal(size=(4, 20_000)) * 0.001
    clipped = reference_clipped_sum(g, 1.5)
    for z in (0.5, 2.0):
        case = f"a [4, 20000] batch with clip_norm=1.5, noise_multiplier={z}"
        first = as_array(
            cases, case, cases.call(g.astype(np.float32), 1.5, z, 3, case=case), clipped.shape
        )
        again = as_array(
            cases, case, cases.call(g.astype(np.float32), 1.5, z, 3, case=case), clipped.shape
        )
        other = as_array(
            cases, case, cases.call(g.astype(np.float32), 1.5, z, 4, case=case), clipped.shape
        )
        if not np.allclose(first, again):
            raise cases.fail(f"{case}: the same seed gave different noise: draw it from "
                             "np.random.default_rng(seed)")
        if np.allclose(first, other):
            raise cases.fail(f"{case}: seeds 3 and 4 gave the same noise: use the seed argument")
        noise = first - clipped
        std, mean = noise.std(), noise.mean()
        if abs(mean) > 0.05 * z * 1.5:
            raise cases.fail(f"{case}: the noise should have mean 0, its mean is {mean:.3f}")
        if not np.isclose(std, z * 1.5, rtol=0.05):
            if np.isclose(std, z, rtol=0.05):
                raise cases.fail(
                    f"{case}: the noise's standard deviation is {std:.3f}; it should be "
                    "noise_multiplier * clip_norm, not noise_multiplier alone"
                )
            raise cases.fail(f"{case}: the noise's standard deviation should be "
                             f"noise_multiplier * clip_norm = {z * 1.5:.2f}, it is {std:.3f}")
        cases.passed()
