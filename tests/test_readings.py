"""Readings worded from computed values (textrec.evaluation.readings), every branch, and the
paired bootstrap they read from."""

import numpy as np
import pytest

from textrec.evaluation import paired_bootstrap, readings
from textrec.text import binary_macro_f1


@pytest.mark.parametrize("low, high, expected", [
    (0.001, 0.02, "higher"), (-0.02, -0.001, "lower"), (-0.01, 0.01, "within noise"),
    (0.0, 0.01, "within noise"),   # an interval touching 0 holds it
])
def test_verdict_follows_the_interval(low, high, expected):
    assert readings.verdict(low, high) == expected


def test_verdict_refuses_a_broken_interval():
    with pytest.raises(ValueError, match="low end"):
        readings.verdict(0.2, 0.1)
    with pytest.raises(ValueError, match="finite"):
        readings.verdict(float("nan"), 0.1)


def test_difference_words_each_branch():
    assert readings.difference("A", "B", 0.012, 0.004, 0.02, "NDCG@10") == (
        "A beats B on NDCG@10: +0.0120 [+0.0040, +0.0200], the 95% interval above 0 "
        "(beyond noise).")
    assert readings.difference("A", "B", -0.012, -0.02, -0.004, "NDCG@10").startswith(
        "A trails B on NDCG@10: -0.0120")
    assert readings.difference("A", "B", 0.002, -0.003, 0.006, "NDCG@10", digits=3) == (
        "A and B are within noise of each other on NDCG@10: +0.002 [-0.003, +0.006], the 95% "
        "interval holds 0.")


def test_the_verdict_is_the_one_the_printed_numbers_show():
    # an interval ending a hair below 0 prints as +0.0000: it holds 0 as printed
    sentence = readings.difference("A", "B", -0.0009, -0.0024, -0.00001, "NDCG@10")
    assert "within noise" in sentence and "+0.0000]" in sentence
    assert readings.check_printed(sentence) == (1, [])


def test_lower_is_better_turns_the_winner_round():
    # RMSE 0.05 lower (difference a - b below 0): a beats b.
    assert readings.difference("A", "B", -0.05, -0.08, -0.02, "RMSE",
                               higher_is_better=False).startswith("A beats B on RMSE")
    assert readings.difference("A", "B", 0.05, 0.02, 0.08, "RMSE",
                               higher_is_better=False).startswith("A trails B on RMSE")


def test_paired_reads_a_paired_test_dict():
    test = {"mean_a": 0.3, "mean_b": 0.25, "difference": 0.05, "low": 0.01, "high": 0.09}
    assert readings.paired(test, "A", "B", "NDCG@10", digits=2) == (
        "A 0.30, B 0.25. A beats B on NDCG@10: +0.05 [+0.01, +0.09], the 95% interval above 0 "
        "(beyond noise).")


@pytest.mark.parametrize("estimate, low, high, at_least, expected", [
    (2.2, 2.1, 2.3, True, "met"),
    (1.908, 1.855, 1.957, True, "missed"),
    (2.05, 1.9, 2.2, True, "not settled"),
    (1.95, 1.9, 2.2, True, "not settled"),
    (3.0, None, None, False, "met"),       # a ceiling: 3 ms within an aim of at most 4 ms
    (5.0, None, None, False, "missed"),
    (3.9, 3.5, 4.5, False, "not settled"),
])
def test_aim_status_each_branch(estimate, low, high, at_least, expected):
    aim = 2.0 if at_least else 4.0
    assert readings.aim_status(estimate, aim, low, high, at_least) == expected


def test_aim_sentences():
    assert readings.aim("the ratio", 1.908, 2, 1.855, 1.957) == (
        "Aim missed: the ratio is 1.908 [1.855, 1.957], the aim at least 2.")
    assert readings.aim("the added latency", 3.04, 4, at_least=False, digits=1, unit=" ms") == (
        "Aim met: the added latency is 3.0 ms, the aim at most 4 ms.")
    assert readings.aim("the added time", 3.98, 25.9594, at_least=False, digits=2, unit=" ms") == (
        "Aim met: the added time is 3.98 ms, the aim at most 25.96 ms.")
    sentence = readings.aim("the ratio", 1.95, 2, 1.9, 2.2)
    assert sentence.startswith("Aim not settled") and "misses the aim" in sentence


def test_check_printed_accepts_every_branch_and_catches_a_wrong_verdict():
    printed = "\n".join([
        readings.difference("A", "B", 0.012, 0.004, 0.02, "NDCG@10"),
        readings.difference("A", "B", -0.012, -0.02, -0.004, "NDCG@10"),
        readings.difference("A", "B", 0.002, -0.003, 0.006, "NDCG@10"),
        readings.aim("the ratio", 1.908, 2, 1.855, 1.957),
        readings.aim("the ratio", 2.2, 2, 2.1, 2.3),
        readings.aim("the ratio", 2.05, 2, 1.9, 2.2),
        readings.aim("latency", 3.0, 4, at_least=False, unit=" ms"),
    ])
    assert readings.check_printed(printed) == (7, [])
    wrong = printed.replace("interval above 0", "interval holds 0", 1).replace(
        "Aim missed", "Aim met")
    found, problems = readings.check_printed(wrong)
    assert found == 7 and len(problems) == 2
    assert readings.check_printed("no reading here") == (0, [])


def test_count_and_best():
    assert readings.count(1, "period") == "1 period"
    assert readings.count(1200, "review") == "1,200 reviews"
    assert readings.count(2, "entry", "entries") == "2 entries"
    assert readings.best({"a": 0.1, "b": np.nan, "c": 0.3}) == "c"
    assert readings.best({"a": 0.1, "c": 0.3}, higher_is_better=False) == "a"


def test_binary_macro_f1_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        labels, predictions = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
        assert binary_macro_f1(labels, predictions) == pytest.approx(
            f1_score(labels, predictions, average="macro", labels=[0, 1], zero_division=0))
    # Hand-checked: all positive, one negative missed. F1(positive) = 2*3/(3+4) = 6/7; F1(neg) = 0.
    assert binary_macro_f1([1, 1, 1, 0], [1, 1, 1, 1]) == pytest.approx(3 / 7)


def test_paired_bootstrap_brackets_the_difference_and_is_seeded():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.9, labels, 1 - labels)     # right 90% of the time
    coin = rng.integers(0, 2, 400)
    result = paired_bootstrap(binary_macro_f1, labels, good, coin, n_resamples=300, seed=3)
    assert result["low"] <= result["difference"] <= result["high"] and result["low"] > 0.2
    assert result == paired_bootstrap(binary_macro_f1, labels, good, coin, n_resamples=300, seed=3)
    same = paired_bootstrap(binary_macro_f1, labels, good, good, n_resamples=50)
    assert same["difference"] == same["low"] == same["high"] == 0
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap(binary_macro_f1, labels, good[:10], coin)
