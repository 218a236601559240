"""Checks for the exercises of lesson 01, data preparation.

Task 1 ``clean_review_text(text)``: HTML entities and tags, URLs, whitespace.
Task 2 ``leave_last_out(reviews)``: a chronological split with ties broken by file order.
Task 3 ``find_leaky_users(train, test)``: the users whose test review leaks into train.

References: :func:`textrec.data.cleaning.clean_text`, :func:`textrec.data.splits.leave_last_out`
and :func:`textrec.data.splits.check_leakage`.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from textrec.data import schema, splits
from textrec.data.cleaning import clean_text
from textrec.grading.checking import Cases, check, describe, hidden_rng

LESSON = "01_data_preparation"
DAY = 86_400

# ---------------------------------------------------------------- task 1: clean_review_text

# (input, expected): each tag becomes a space, URLs run to the next whitespace.
CLEANING_CASES = [
    ("Loud &amp; clear<br />see http://example.com/amp   for specs",
     "Loud & clear see for specs"),
    ("<p>Great <b>tone</b> for the price</p>", "Great tone for the price"),
    ("line one<br/>line two", "line one line two"),
    ("Fits my Strat: www.fender.com/parts and https://x.co/a?b=1 too", "Fits my Strat: and too"),
    ("  tabs\tand\nnewlines  ", "tabs and newlines"),
    ("Rock &#39;n&#39; roll &quot;tone&quot;", "Rock 'n' roll \"tone\""),
    ("Plain text stays. 🎸 Café", "Plain text stays. 🎸 Café"),
    ("", ""),
]

_WORDS = ["great", "strings", "tone", "buzz", "Fender", "cheap", "amp", "pedal", "5", "stars",
          "don't", "Café", "🎸", "well-made", ":)", "price.", "(sturdy)"]
_ENTITIES = ["&amp;", "&quot;", "&#39;", "&eacute;", "&gt;"]
_TAGS = ["<br />", "<br>", "<b>", "</b>", "<p>", "</p>", '<a href="#specs">', "</a>", "<i>"]
_URLS = ["http://example.com/x?y=1", "https://amzn.to/3abc", "www.shop.com/p/123"]
_SPACES = [" ", " ", " ", "  ", "\t", "\n", " \n "]


def _clean_by_spec(text: str) -> str:
    """The task as stated: one unescape, tags and URLs to spaces, whitespace collapsed."""
    text = html.unescape(text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"(?:https?://|www\.)\S+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _random_review(rng: np.random.Generator) -> str:
    pieces = []
    for _ in range(int(rng.integers(3, 14))):
        kind = rng.choice(
            ["word", "word", "word", "entity", "tag", "url"], p=[0.3, 0.2, 0.2, 0.1, 0.15, 0.05]
        )
        pool = {"word": _WORDS, "entity": _ENTITIES, "tag": _TAGS, "url": _URLS}[str(kind)]
        pieces.append(str(rng.choice(pool)))
        glue = "" if kind == "tag" and rng.random() < 0.5 else str(rng.choice(_SPACES))
        pieces.append(glue)
    return "".join(pieces)


def _hidden_cleaning_cases(n: int = 40, seed: int = 101) -> list[tuple[str, str]]:
    rng = hidden_rng(seed)
    cases = []
    while len(cases) < n:
        text = _random_review(rng)
        expected = clean_text(text)
        if expected == _clean_by_spec(text):  # only cases the task's wording decides
            cases.append((text, expected))
    return cases


def _cleaning_hint(text: str, got, expected: str) -> str:
    if not isinstance(got, str):
        return f"it should return a str, got {type(got).__name__} for {describe(text)}"
    if re.search(r"&(?:amp|quot|#39|eacute);", got):
        return ("HTML entities such as &amp; are still in the text: the standard library's html "
                f"module can unescape them (input {describe(text)}, got {describe(got)})")
    if re.search(r"<[^>]*>", got):
        return f"HTML tags are still in the text (input {describe(text)}, got {describe(got)})"
    if re.search(r"https?://|www\.", got, re.IGNORECASE):
        return ("a URL is still in the text: remove everything from http://, https:// or www. up "
                f"to the next whitespace (input {describe(text)}, got {describe(got)})")
    if got != got.strip() or re.search(r"\s\s|[\t\n]", got):
        return ("whitespace: collapse every run of spaces, tabs and newlines into one space and "
                f"strip both ends (input {describe(text)}, got {describe(got)})")
    if got.replace(" ", "") == expected.replace(" ", "") and len(got) < len(expected):
        return (
            "two words ran together: a tag between words must leave a space, so replace "
            f"each tag with a space, not with nothing (input {describe(text)}, got {describe(got)})"
        )
    return f"for {describe(text)} expected {describe(expected)}, got {describe(got)}"


@check(LESSON, 1, "clean_review_text", "review text cleaned of HTML, URLs and extra whitespace")
def check_clean_review_text(cases: Cases) -> None:
    given = CLEANING_CASES + _hidden_cleaning_cases()
    outputs = cases.call_all([(text,) for text, _ in given], case="the cleaning cases")
    for (text, expected), got in zip(given, outputs):
        if got != expected:
            raise cases.fail(_cleaning_hint(text, got, expected))
        cases.passed()


# ------------------------------------------------------------------ task 2: leave_last_out

def reviews_frame(rows) -> pd.DataFrame:
    """A reviews frame from (user, item, day, order[, text]) tuples."""
    return pd.DataFrame({
        schema.USER: [r[0] for r in rows],
        schema.ITEM: [r[1] for r in rows],
        schema.RATING: 5.0,
        schema.TEXT: [r[4] if len(r) > 4 else f"review of {r[1]}" for r in rows],
        schema.SUMMARY: "",
        schema.TIMESTAMP: [r[2] * DAY for r in rows],
        schema.ORDER: [r[3] for r in rows],
    })


# u1: its last two reviews share day 3: file order makes d (order 3) the test item, c validation.
# u2: listed out of time order in the file: by time f (day 1), e (day 5), g (day 9).
# u3 has two reviews and u4 one: too few to hold two out, they stay in train.
# u5: three reviews on one day: n test, m validation, l train.
SPLIT_ROWS = [("u1", "a", 1, 0), ("u1", "b", 2, 1), ("u1", "c", 3, 2), ("u1", "d", 3, 3),
              ("u2", "e", 5, 4), ("u2", "f", 1, 5), ("u2", "g", 9, 6),
              ("u3", "h", 2, 7), ("u3", "i", 4, 8), ("u4", "j", 7, 9),
              ("u5", "l", 4, 10), ("u5", "m", 4, 11), ("u5", "n", 4, 12)]
SPLIT_EXPECTED = {"train": {0, 1, 5, 7, 8, 9, 10}, "validation": {2, 4, 11}, "test": {3, 6, 12}}
PARTS = ("train", "validation", "test")


def _random_history(rng: np.random.Generator, n_users: int = 25) -> pd.DataFrame:
    rows = []
    for user in range(n_users):
        for _ in range(int(rng.integers(1, 8))):
            rows.append((f"U{user:02d}", f"I{rng.integers(500):03d}", int(rng.integers(0, 6))))
    orders = rng.permutation(len(rows))  # file order unrelated to the listing
    frame = reviews_frame([(u, i, d, int(o)) for (u, i, d), o in zip(rows, orders)])
    return frame.sample(frac=1.0, random_state=int(rng.integers(1000))).reset_index(drop=True)


def _unpack_split(cases: Cases, result) -> dict[str, pd.DataFrame]:
    if isinstance(result, (tuple, list)) and len(result) == 3:
        parts = dict(zip(PARTS, result))
        if all(isinstance(f, pd.DataFrame) and schema.ORDER in f.columns for f in parts.values()):
            return parts
    raise cases.fail("return a tuple of three DataFrames (train, validation, test) with the "
                     f"columns of the input; got {describe(result, 80)}")


def _split_hint(reviews: pd.DataFrame, parts: dict[str, pd.DataFrame], expected: dict) -> str:
    orders = pd.concat([parts[p][schema.ORDER] for p in PARTS])
    if len(orders) != len(reviews) or set(orders) != set(reviews[schema.ORDER]):
        return (f"every review must land in exactly one part: {len(reviews)} reviews in, "
                f"{len(orders)} out ({orders.nunique()} distinct)")
    by_order = reviews.set_index(schema.ORDER)
    counts = reviews[schema.USER].value_counts()
    expected_test_users = set(by_order.loc[sorted(expected["test"]), schema.USER])
    got_test_users = set(by_order.loc[list(parts["test"][schema.ORDER]), schema.USER])
    for user in sorted(expected_test_users - got_test_users):
        return (f"user {user} has {counts[user]} reviews, enough to hold two out, but has no "
                "test review")
    for part in ("validation", "test"):
        users = set(by_order.loc[list(parts[part][schema.ORDER]), schema.USER])
        short = sorted(u for u in users if counts[u] < 3)
        if short:
            return (f"user {short[0]} has only {counts[short[0]]} review(s) but has one in {part}: "
                    "users with fewer than 3 reviews stay entirely in train")
    for part in ("test", "validation"):
        got = by_order.loc[sorted(set(parts[part][schema.ORDER]) - expected[part])]
        for order, row in got.iterrows():
            user = row[schema.USER]
            want = by_order.loc[sorted(expected[part])]
            want = want[want[schema.USER] == user]
            if want.empty:
                continue
            if want[schema.TIMESTAMP].iloc[0] == row[schema.TIMESTAMP]:
                which = "later" if part == "test" else "earlier"
                return (f"user {user}'s {part} item should be the {which} of two same-day "
                        "reviews: which column breaks ties? (rows may come in any order, so "
                        "the row position does not tell which line came first)")
            return (f"user {user}'s {part} review is not the right one in time: order each "
                    "user's reviews by the timestamp column before picking the last ones")
    return "the split differs from leave-last-out; compare your parts with the task's rules"


@check(LESSON, 2, "leave_last_out", "leave-last-out with ties broken by file order")
def check_leave_last_out(cases: Cases) -> None:
    given = reviews_frame(SPLIT_ROWS)
    frames = [("the task's example", given, SPLIT_EXPECTED),
              ("the task's example with its rows reversed", given.iloc[::-1], SPLIT_EXPECTED)]
    rng = hidden_rng(202)
    for number in range(6):
        frame = _random_history(rng)
        split = splits.leave_last_out(frame)
        expected = {p: set(getattr(split, p)[schema.ORDER]) for p in PARTS}
        frames.append((f"hidden case {number + 1}", frame, expected))
    for name, frame, expected in frames:
        result = cases.call(frame.copy(), case=name)
        parts = _unpack_split(cases, result)
        if {p: set(parts[p][schema.ORDER]) for p in PARTS} != expected:
            raise cases.fail(f"{name}: " + _split_hint(frame, parts, expected))
        missing = [c for c in frame.columns if any(c not in parts[p].columns for p in PARTS)]
        if missing:
            raise cases.fail(
                f"{name}: keep every column of the input in each part ({missing} went missing)"
            )
        cases.passed()


# ---------------------------------------------------------------- task 3: find_leaky_users

# Per user, with the leak (if any) each one has:
# c1 clean; c2 a train review on the test day but later in the file (leak: time order);
# c3 test item also reviewed in train (leak: pair); c4 test text copied from a train review
# (leak: text); c5 empty texts on both sides (no leak); c6 a train review days after the test
# (leak: time order); c7 train only and c8 test only (no leak); c9's test item is c4's train
# item and c10's test text is c1's train text (no leak: other users' items and texts are fine).
LEAK_TRAIN = [("c1", "p1", 1, 0, "solid stand"), ("c1", "p2", 2, 1, "Great strings."),
              ("c2", "p3", 1, 2, "ok"), ("c2", "p4", 4, 6, "late but same day"),
              ("c3", "p5", 1, 7, "first take on p5"), ("c3", "p6", 2, 8, "fine"),
              ("c4", "p7", 1, 9, "Buzzes at the 12th fret."), ("c5", "p8", 1, 10, ""),
              ("c6", "p9", 9, 11, "written later"), ("c7", "p1", 2, 12, "train only"),
              ("c9", "p2", 1, 13, "nice"), ("c10", "p3", 1, 14, "meh")]
LEAK_TEST = [
    ("c1", "p10", 3, 15, "works"),
    ("c2", "p1", 4, 5, "test review"),
    ("c3", "p5", 5, 16, "second take on p5"),
    ("c4", "p8", 3, 17, "Buzzes at the 12th fret."),
    ("c5", "p12", 3, 18, ""),
    ("c6", "p1", 5, 19, "earlier than train"),
    ("c8", "p11", 3, 20, "test only"),
    ("c9", "p7", 3, 21, "good"),
    ("c10", "p13", 3, 22, "Great strings."),
]
LEAK_EXPECTED = {"c2", "c3", "c4", "c6"}
LEAK_HINTS = {
    "c2": "one of their train reviews is on the test day but later in the file: compare "
          "(timestamp, order), not the timestamp alone",
    "c3": "their test item is also one of their train items",
    "c4": "their test review has the same text as one of their train reviews",
    "c6": "one of their train reviews is dated after their test review",
}
FALSE_ALARM_HINTS = {
    "c5": "user c5 is no leak: empty texts are equal but carry nothing, so ignore them",
    "c7": "user c7 has no test review, so nothing of theirs can leak",
    "c8": "user c8 has no train reviews, so nothing of theirs can leak",
    "c9": "user c9 is no leak: another user reviewing the same item in train is fine",
    "c10": "user c10 is no leak: another user's train review with the same text is fine",
    "c1": "user c1 is no leak: all their train reviews come before their test review",
}


def reference_leaky_users(train: pd.DataFrame, test: pd.DataFrame) -> set:
    """The users for whom :func:`textrec.data.splits.check_leakage` would find a problem
    (its three rules, and a review in both parts), user by user."""
    key = lambda f: f[schema.TIMESTAMP].astype("int64") * 10**9 + f[schema.ORDER]  # noqa: E731
    last_train = train.assign(_key=key(train)).groupby(schema.USER)["_key"].max()
    first_test = test.assign(_key=key(test)).groupby(schema.USER)["_key"].min()
    both = last_train.index.intersection(first_test.index)
    leaky = set(both[(last_train[both] >= first_test[both]).to_numpy()])
    pairs = set(zip(train[schema.USER], train[schema.ITEM]))
    texts = set(zip(train[schema.USER], train[schema.TEXT]))
    in_train = set(train[schema.ORDER])
    for user, item, text, order in zip(test[schema.USER], test[schema.ITEM], test[schema.TEXT],
                                       test[schema.ORDER]):
        if (user, item) in pairs or (text and (user, text) in texts) or order in in_train:
            leaky.add(user)
    return leaky


def _random_leaky_split(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    split = splits.leave_last_out(_random_history(rng, n_users=20))
    train, test = split.train.copy(), split.test.copy()
    for index in test.index:
        user = test.at[index, schema.USER]
        mine = train.index[train[schema.USER] == user]
        kind = rng.integers(6)
        if kind == 0:  # a train review moved to the test day, after it in the file
            row = mine[int(rng.integers(len(mine)))]
            train.at[row, schema.TIMESTAMP] = test.at[index, schema.TIMESTAMP]
            train.at[row, schema.ORDER] = test.at[index, schema.ORDER] + 10_000
        elif kind == 1:  # the test item was also reviewed earlier
            train.at[mine[0], schema.ITEM] = test.at[index, schema.ITEM]
        elif kind == 2:  # the test text is a copy of a train text
            test.at[index, schema.TEXT] = train.at[mine[-1], schema.TEXT]
        elif kind == 3:  # a train review written after the test one
            train.at[mine[0], schema.TIMESTAMP] = test.at[index, schema.TIMESTAMP] + DAY
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _as_user_set(cases: Cases, result) -> set:
    if isinstance(result, (str, bytes)) or result is None:
        raise cases.fail(f"return a set (or list) of user ids, got {describe(result, 80)}")
    try:
        return {str(user) for user in result}
    except TypeError:
        raise cases.fail(
            f"return a set (or list) of user ids, got {describe(result, 80)}"
        ) from None


@check(LESSON, 3, "find_leaky_users",
       "leaky users found (time order, repeated items, copied texts)")
def check_find_leaky_users(cases: Cases) -> None:
    train, test = reviews_frame(LEAK_TRAIN), reviews_frame(LEAK_TEST)
    got = _as_user_set(cases, cases.call(train.copy(), test.copy(), case="the task's example"))
    for user in sorted(LEAK_EXPECTED - got):
        raise cases.fail(
            f"the task's example: user {user} leaks but was not flagged: {LEAK_HINTS[user]}"
        )
    for user in sorted(got - LEAK_EXPECTED):
        raise cases.fail(
            f"the task's example: {FALSE_ALARM_HINTS.get(user, f'user {user} is no leak')}"
        )
    cases.passed()
    rng = hidden_rng(303)
    for number in range(4):
        train, test = _random_leaky_split(rng)
        expected = reference_leaky_users(train, test)
        got = _as_user_set(
            cases, cases.call(train.copy(), test.copy(), case=f"hidden case {number + 1}")
        )
        if got != expected:
            missed, extra = sorted(expected - got), sorted(got - expected)
            detail = (
                f"missed {missed[:3]}" if missed else f"flagged users that do not leak: {extra[:3]}"
            )
            raise cases.fail(f"hidden case {number + 1} ({len(test)} test reviews): {detail}")
        cases.passed()
