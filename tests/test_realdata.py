"""The shared real data, read through TEXTREC_REAL_DATA or ../shared/data (skipped when absent)."""

import os
from pathlib import Path

import pytest

from textrec.data import schema, splits
from textrec.data.amazon import load_amazon_reviews
from textrec.data.cleaning import clean_reviews

DEFAULT = (Path(__file__).resolve().parents[2] / "shared" / "data"
           / "amazon-2014-musical-instruments-5core" / "reviews_Musical_Instruments_5.json.gz")
REAL = Path(os.environ.get("TEXTREC_REAL_DATA", DEFAULT))

pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not REAL.is_file(), reason=f"real data not found at {REAL}")]


def test_musical_instruments_loads_exactly():
    frame, report = load_amazon_reviews(REAL)
    assert ((len(frame), frame[schema.USER].nunique(), frame[schema.ITEM].nunique())
            == (10_261, 1_429, 900))
    assert report.n_skipped == 0
    assert (frame[schema.RATING].value_counts().sort_index().tolist()
            == [217, 250, 772, 2_084, 6_938])
    assert (frame[schema.TEXT] == "").sum() == 7


def test_musical_instruments_cleans_and_splits_without_leakage():
    frame, _ = load_amazon_reviews(REAL)
    clean, report = clean_reviews(frame)
    # Two reviews copied onto a second item the same day, one reposted four days later.
    assert report.counts() == {"same review on several items": 2,
                               "same review posted again on another item": 1}
    split = splits.leave_last_out(clean)
    assert splits.check_leakage(split) == []
    assert len(split.test) == len(split.validation) == 1_429
