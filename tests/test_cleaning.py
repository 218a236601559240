"""Text normalisation, duplicate removal, k-core and the removal report."""

import pandas as pd

from tests.helpers import reviews
from textrec.data import schema
from textrec.data.cleaning import (
    add_sentiment,
    clean_reviews,
    clean_text,
    k_core,
    remove_stop_words,
    tokenize,
)


def test_clean_text_removes_html_urls_and_invisible_characters():
    raw = "Loud &amp;amp; clear<br />really <b>good</b> see https://x.com/a?b=1 \u200bok\u0007 😀"
    assert clean_text(raw) == "Loud & clear really good see ok 😀"
    assert clean_text("") == ""
    assert clean_text(None) == ""
    assert clean_text("Ｆｕｌｌｗｉｄｔｈ") == "Fullwidth"  # NFKC
    assert clean_text("  many   spaces \n\t here ") == "many spaces here"


def test_clean_text_keeps_prices_model_numbers_and_other_scripts():
    assert clean_text("Costs $19.99 for the SM-58, 5/5") == "Costs $19.99 for the SM-58, 5/5"
    assert clean_text("很好的吉他") == "很好的吉他"


def test_tokens_and_stop_words():
    assert tokenize("Don't buy THIS amp, it's 50W!") == ["don't", "buy", "this", "amp", "it's",
                                                          "50w"]
    assert remove_stop_words(["this", "amp", "is", "loud"]) == ["amp", "loud"]


def test_duplicates_keep_the_earliest_and_are_reported():
    frame = reviews([
        ("u1", "i1", 5, "first", 2),
        ("u1", "i1", 4, "second", 1),        # same pair, earlier: this one is kept
        ("u1", "i2", 5, "same words", 3),
        ("u1", "i3", 5, "same words", 3),    # same text and day on another item: a copy
        ("u1", "i4", 5, "same words", 9),    # posted again later on another item
        ("u2", "i2", 5, "same words", 3),    # another user may write the same words
        ("u2", "i3", 1, "", 4),
        ("u2", "i4", 1, "", 4),              # empty texts are not copies of each other
    ])
    clean, report = clean_reviews(frame)
    assert sorted(zip(clean[schema.USER], clean[schema.ITEM])) == [
        ("u1", "i1"), ("u1", "i2"), ("u2", "i2"), ("u2", "i3"), ("u2", "i4")]
    assert clean.loc[(clean[schema.USER] == "u1") & (clean[schema.ITEM] == "i1"),
                     schema.TEXT].item() == "second"
    assert report.counts() == {"duplicate (user, item)": 1, "same review on several items": 1,
                               "same review posted again on another item": 1}
    removed = report.removed.set_index(schema.ORDER)
    assert removed.loc[0, "detail"] == "later duplicate of the review at order 1"
    assert removed.loc[3, "detail"] == "copy of the review at order 2"
    assert report.rows_in == 8 and report.rows_out == 5 and report.empty_texts == 2


def test_k_core_is_iterated_until_stable():
    # u3 has one review; removing it leaves i3 with one review, which must then go too,
    # and that leaves u2 with one review. Only the dense u1/u4 x i1/i2 block survives.
    frame = reviews([
        ("u1", "i1", 5, "a", 1), ("u1", "i2", 5, "b", 2),
        ("u4", "i1", 5, "c", 1), ("u4", "i2", 5, "d", 2),
        ("u2", "i3", 5, "e", 1), ("u2", "i1", 5, "f", 2),
        ("u3", "i3", 5, "g", 3),
    ])
    kept, removed = k_core(frame, 2)
    assert sorted(kept[schema.USER].unique()) == ["u1", "u4"]
    assert len(removed) == 3
    assert all(removed["reason"] == "2-core filter")
    assert any("round 2" in d for d in removed["detail"])


def test_clean_reviews_rejects_a_frame_without_the_schema():
    import pytest

    with pytest.raises(ValueError, match="lacks columns"):
        clean_reviews(pd.DataFrame({"user": [1]}))


def test_sentiment_labels_leave_three_stars_neutral():
    frame = add_sentiment(reviews([("u", f"i{r}", r, "", 1) for r in (1, 2, 3, 4, 5)]))
    assert frame[schema.SENTIMENT].tolist() == [0, 0, -1, 1, 1]
