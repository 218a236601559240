"""Readings: the sentence a page prints about a result, worded from the values it just computed.

A lesson that interprets a result (which model wins, whether a difference is beyond noise,
whether an aim is met) prints that reading from its own numbers, so it stays true on the
learner's data, seed and profile. These functions hold the branching once:

* :func:`verdict` names where an interval lies: ``"higher"`` (above 0), ``"lower"`` (below 0)
  or ``"within noise"`` (it holds 0);
* :func:`difference` words a difference ``a - b`` with its interval, for a metric where higher
  is better (NDCG, macro-F1) or lower is better (RMSE, latency);
* :func:`paired` does the same from :func:`~textrec.evaluation.uncertainty.paired_test`'s dict;
* :func:`aim` says whether an estimate meets an aim: met, missed, or not settled when its
  interval holds the aim.

Every sentence states its numbers in one fixed form, ``+0.0123 [+0.0040, +0.0200]`` for a
difference and ``1.91 [1.86, 1.96]`` for an estimate, so a reader (and the course's tests) can
check the verdict against the interval printed beside it.
"""

from __future__ import annotations

import math
import re

import numpy as np

VERDICTS = ("higher", "lower", "within noise")
AIMS = ("met", "missed", "not settled")


def verdict(low: float, high: float) -> str:
    """"higher" when the interval ``[low, high]`` lies above 0, "lower" when below, else
    "within noise"."""
    _check_interval(low, high)
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "within noise"


def _check_interval(low: float, high: float, estimate: float | None = None) -> None:
    values = (low, high) if estimate is None else (low, estimate, high)
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"an interval needs finite values, got {values}")
    if low > high:
        raise ValueError(f"an interval's low end must not exceed its high end: [{low}, {high}]")


def _rounded(value: float, digits: int) -> float:
    return round(float(value), digits) + 0.0   # + 0.0: no "-0.0000"


def signed(value: float, digits: int = 4) -> str:
    """``+0.0123`` / ``-0.0123``: a difference with its sign."""
    return f"{_rounded(value, digits):+.{digits}f}"


def interval(estimate: float, low: float, high: float, digits: int = 4,
             sign: bool = False) -> str:
    """``0.0123 [0.0040, 0.0200]``, or with ``sign`` ``+0.0123 [+0.0040, +0.0200]``."""
    form = f"{{:{'+' if sign else ''}.{digits}f}}"
    shown = [form.format(_rounded(value, digits)) for value in (estimate, low, high)]
    return f"{shown[0]} [{shown[1]}, {shown[2]}]"


def difference(a: str, b: str, diff: float, low: float, high: float, metric: str,
               higher_is_better: bool = True, digits: int = 4, confidence: float = 0.95) -> str:
    """One sentence on ``a - b`` (``diff``, its interval ``[low, high]``) on ``metric``.

    ``difference("EASE", "most popular", 0.012, 0.004, 0.020, "NDCG@10")`` reads "EASE beats
    most popular on NDCG@10: +0.0120 [+0.0040, +0.0200], the 95% interval above 0 (beyond
    noise)."; an interval below 0 "trails", one holding 0 "are within noise of each other".
    """
    _check_interval(low, high, diff)
    where = verdict(_rounded(low, digits), _rounded(high, digits))   # as printed: -0.00001 is 0
    numbers = interval(diff, low, high, digits, sign=True)
    share = f"{confidence:.0%}"
    if where == "within noise":
        return (f"{a} and {b} are within noise of each other on {metric}: {numbers}, the {share} "
                "interval holds 0.")
    better = (where == "higher") == higher_is_better
    side = "above" if where == "higher" else "below"
    return (f"{a} {'beats' if better else 'trails'} {b} on {metric}: {numbers}, the {share} "
            f"interval {side} 0 (beyond noise).")


def paired(test: dict, a: str, b: str, metric: str, higher_is_better: bool = True,
           digits: int = 4, confidence: float = 0.95) -> str:
    """:func:`difference` from a :func:`~textrec.evaluation.uncertainty.paired_test` result
    (``difference``, ``low``, ``high``), with both means in front."""
    means = (f"{a} {test['mean_a']:.{digits}f}, {b} {test['mean_b']:.{digits}f}. "
             if "mean_a" in test and "mean_b" in test else "")
    return means + difference(a, b, test["difference"], test["low"], test["high"], metric,
                              higher_is_better, digits, confidence)


def aim_status(estimate: float, aim_value: float, low: float | None = None,
               high: float | None = None, at_least: bool = True) -> str:
    """"met", "missed" or "not settled" (the interval holds the aim).

    Without an interval the estimate alone decides. ``at_least``: the aim is a floor
    (estimate >= aim); otherwise a ceiling (estimate <= aim).
    """
    low = estimate if low is None else low
    high = estimate if high is None else high
    _check_interval(low, high, estimate)
    if not at_least:
        low, high, estimate, aim_value = -high, -low, -estimate, -aim_value
    if low >= aim_value:
        return "met"
    if high < aim_value:
        return "missed"
    return "not settled"


def aim(name: str, estimate: float, aim_value: float, low: float | None = None,
        high: float | None = None, at_least: bool = True, digits: int = 3,
        unit: str = "") -> str:
    """One sentence on whether ``name`` (``estimate``, optional interval) meets the aim.

    ``aim("the faithfulness ratio of EASE", 1.908, 2, 1.855, 1.957)`` reads "Aim missed: the
    faithfulness ratio of EASE is 1.908 [1.855, 1.957], the aim at least 2."
    """
    rounded = [None if v is None else _rounded(v, digits) for v in (estimate, low, high)]
    status = aim_status(rounded[0], aim_value, rounded[1], rounded[2], at_least)   # as printed
    value = (f"{_rounded(estimate, digits):.{digits}f}{unit}" if low is None and high is None
             else interval(estimate, estimate if low is None else low,
                           estimate if high is None else high, digits) + unit)
    shown = f"{aim_value:g}" if float(aim_value).is_integer() else f"{aim_value:.{digits}f}"
    bound = f"{'at least' if at_least else 'at most'} {shown}{unit}"
    if status == "not settled":
        side = "meets" if (estimate >= aim_value) == at_least else "misses"
        return (f"Aim not settled: {name} is {value}; the estimate {side} the aim ({bound}), "
                "but the interval holds it.")
    return f"Aim {status}: {name} is {value}, the aim {bound}."


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 period``, ``3 periods``: a number with its noun agreeing."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def best(values: dict, higher_is_better: bool = True) -> str:
    """The key of the best value (NaNs ignored)."""
    finite = {key: value for key, value in values.items() if np.isfinite(value)}
    if not finite:
        raise ValueError("no finite value to choose from")
    pick = max if higher_is_better else min
    return pick(finite, key=finite.get)


_NUMBER = r"[+-]?\d[\d,]*\.?\d*(?:e[+-]?\d+)?"
_DIFFERENCE = re.compile(
    rf"(beats|trails|are within noise of each other on) .*?: ({_NUMBER}) \[({_NUMBER}), "
    rf"({_NUMBER})\], the \d+% interval (above 0|below 0|holds 0)")
_AIM = re.compile(
    rf"Aim (met|missed|not settled): .*? is ({_NUMBER})(?: \[({_NUMBER}), ({_NUMBER})\])?"
    rf"[^;,]*[;,] .*?(at least|at most) ({_NUMBER})")


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def check_printed(text: str) -> tuple[int, list[str]]:
    """(how many readings ``text`` holds, the ones whose verdict contradicts their own numbers).

    Finds every sentence worded by :func:`difference` or :func:`aim` in printed output and
    checks it against the numbers it states: an interval "above 0" must have a positive low
    end, "within noise" must hold 0, "Aim met" must clear the aim, and so on.
    """
    problems, found = [], 0
    for match in _DIFFERENCE.finditer(text):
        found += 1
        word, (diff, low, high), side = match.group(1), map(_float, match.groups()[1:4]), \
            match.group(5)
        expected = {"higher": "above 0", "lower": "below 0", "within noise": "holds 0"}[
            verdict(low, high)]
        if side != expected or not low <= diff <= high or (
                (word == "are within noise of each other on") != (side == "holds 0")):
            problems.append(f"{match.group(0)!r}: the interval is {expected}")
    for match in _AIM.finditer(text):
        found += 1
        status, estimate = match.group(1), _float(match.group(2))
        low = _float(match.group(3)) if match.group(3) else None
        high = _float(match.group(4)) if match.group(4) else None
        expected = aim_status(estimate, _float(match.group(6)), low, high,
                              at_least=match.group(5) == "at least")
        if status != expected:
            problems.append(f"{match.group(0)!r}: the numbers say {expected}")
    return found, problems
