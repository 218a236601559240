"""The privacy promises at their edges (issue #16): accounting on invalid inputs, the pseudonym
key, forgetting every artefact, and the PII scrubber on a held-out-style set."""

import math
import os
import sqlite3
import stat

import numpy as np
import pandas as pd
import pytest

from tests.pii_snippets import CLEAN, PII
from textrec import privacy
from textrec.data import schema
from textrec.text.cache import EmbeddingCache, text_key

# -- accounting -----------------------------------------------------------------------------------

GOOD = {"noise_multiplier": 1.1, "sampling_rate": 256 / 60_000, "steps": 100, "delta": 1e-5}
BAD_VALUES = [
    ("noise_multiplier", math.nan, "noise_multiplier must be a finite number"),
    ("noise_multiplier", math.inf, "noise_multiplier must be a finite number"),
    ("noise_multiplier", -1.0, "noise_multiplier must be >= 0"),
    ("sampling_rate", math.nan, "sampling_rate must be a finite number"),
    ("sampling_rate", 1.5, r"sampling_rate must be in \(0, 1\]"),
    ("steps", math.nan, "steps must be a finite number"),
    ("steps", math.inf, "steps must be a finite number"),
    ("steps", 2.5, "steps must be a whole number"),
    ("steps", -1, "steps must be a non-negative integer"),
    ("delta", math.nan, "delta must be a finite number"),
    ("delta", 0.0, r"delta must be in \(0, 1\)"),
]


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
@pytest.mark.parametrize("name, value, message", BAD_VALUES,
                         ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_invalid_inputs_raise_instead_of_understating_epsilon(accountant, name, value, message):
    with pytest.raises(ValueError, match=message):
        privacy.epsilon(**{**GOOD, name: value}, accountant=accountant)


@pytest.mark.parametrize("name, value, message", BAD_VALUES + [
    ("units", 0, "units must be at least 1"), ("units", math.nan, "units must be a finite")])
def test_a_privacy_budget_cannot_be_built_from_invalid_inputs(name, value, message):
    arguments = {"units": 60_000, **GOOD, name: value}
    with pytest.raises(ValueError, match=message):
        privacy.PrivacyBudget(**arguments)


def test_non_numbers_are_refused_and_zero_steps_cost_nothing():
    with pytest.raises(TypeError, match="noise_multiplier must be a number"):
        privacy.epsilon(**{**GOOD, "noise_multiplier": "1.1"})
    with pytest.raises(TypeError, match="steps must be a number"):
        privacy.epsilon(**{**GOOD, "steps": True})
    for accountant in ("rdp", "pld"):
        assert privacy.epsilon(**{**GOOD, "steps": 0}, accountant=accountant) == 0.0
    assert privacy.PrivacyBudget(60_000, GOOD["sampling_rate"], 0, 1.1, 1e-5).epsilon() == 0.0
    assert privacy.epsilon(**{**GOOD, "noise_multiplier": 0.0}) == math.inf
    # NumPy numbers are numbers; the reference point still holds.
    assert privacy.epsilon(np.float32(1.1), np.float64(256 / 60_000), np.int64(14_062),
                           1e-5) == pytest.approx(2.60, abs=0.01)
    with pytest.raises(ValueError, match="target_epsilon must be a finite number"):
        privacy.noise_multiplier_for_epsilon(math.nan, 0.01, 100, 1e-5)
    with pytest.raises(ValueError, match="steps is 0"):
        privacy.noise_multiplier_for_epsilon(1.0, 0.01, 0, 1e-5)


# -- pseudonym key --------------------------------------------------------------------------------

@pytest.fixture
def no_configured_key(monkeypatch):
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.PSEUDONYM_KEY_ENV + "_FILE", raising=False)


def test_without_a_configured_key_the_export_uses_a_private_random_key(no_configured_key,
                                                                       _isolated_home):
    from textrec import export

    secret, source = export.resolve_pseudonym_key()
    path = privacy.installation_key_path()
    assert path == _isolated_home / "keys" / "pseudonym.key" and str(path) in source
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(path.read_text().strip()) == 64 and secret == path.read_text().strip().encode()
    assert export.resolve_pseudonym_key() == (secret, source)          # made once, then kept
    # The attack of the audit: pseudonymise public reviewer ids with the public demo key.
    public_ids = [f"A{n:013d}" for n in range(20)]
    exported = set(privacy.pseudonymize_ids(public_ids, secret))
    guessed = set(privacy.pseudonymize_ids(public_ids, privacy.demo_key(42)))
    assert not exported & guessed


def test_the_installation_key_file_is_narrowed_and_checked(no_configured_key, _isolated_home):
    key, path = privacy.installation_key()
    os.chmod(path, 0o644)
    assert privacy.installation_key() == (key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short\n")
    with pytest.raises(ValueError, match="delete the file to make a new one"):
        privacy.installation_key()


def test_two_installations_get_unrelated_keys(no_configured_key, monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTREC_HOME", str(tmp_path / "one"))
    first, _ = privacy.installation_key()
    monkeypatch.setenv("TEXTREC_HOME", str(tmp_path / "two"))
    second, _ = privacy.installation_key()
    assert first != second


# -- forgetting -----------------------------------------------------------------------------------

def _reviews(texts_by_user: dict, summaries: dict | None = None) -> pd.DataFrame:
    rows = []
    for user, texts in texts_by_user.items():
        for n, text in enumerate(texts):
            rows.append({schema.USER: user, schema.ITEM: f"i{n}", schema.RATING: 5.0,
                         schema.TEXT: text, schema.SUMMARY: (summaries or {}).get(user, ""),
                         schema.TIMESTAMP: n, schema.ORDER: len(rows)})
    return pd.DataFrame(rows)


RAW = _reviews({"A_REAL_ID_1": ["call me on 555-123-4567, the strings rock",
                                "the bridge of this bass rattles a lot"],
                "A_REAL_ID_2": ["another person's long review text here"]},
               summaries={"A_REAL_ID_1": "Rattly but lovely bass", "A_REAL_ID_2": "Fine"})


def _scrubbed_and_pseudonymised(key="a-key-for-forgetting-tests-0123"):
    scrubbed, _ = privacy.scrub_reviews(RAW)
    return privacy.pseudonymize_reviews(scrubbed, key), privacy.pseudonymize("A_REAL_ID_1", key)


def test_needles_cover_summaries_raw_texts_and_the_pseudonym():
    reviews, pseudonym = _scrubbed_and_pseudonymised()
    needles = privacy.user_needles(reviews, pseudonym, raw_reviews=RAW,
                                   raw_user_id="A_REAL_ID_1", pseudonym=pseudonym)
    values = set(needles.values())
    assert b"A_REAL_ID_1" in values and pseudonym.encode() in values
    assert b"call me on [PHONE], the strings rock" in values          # scrubbed text
    assert b"call me on 555-123-4567, the strings rock" in values     # raw text
    assert b"Rattly but lovely bass" in values                        # summary
    assert text_key("call me on 555-123-4567, the strings rock").encode() in values
    # A text found inside another user's review would prove nothing: left out.
    shared = _reviews({"u1": ["great strings"], "u2": ["these are great strings indeed"]})
    assert not any(k.startswith("text") for k in privacy.user_needles(shared, "u1"))


def _cache_with(path, texts, dim=4):
    cache = EmbeddingCache(path, dim)
    cache.put_many([text_key(t) for t in texts], np.ones((len(texts), dim), np.float32),
                   np.zeros(len(texts), bool), 32)
    return cache


def test_forget_user_cleans_the_shared_caches_and_reports_every_trace_left(
        _isolated_home, monkeypatch):
    monkeypatch.delenv("TEXTREC_CACHE", raising=False)
    reviews, pseudonym = _scrubbed_and_pseudonymised()
    from textrec import config

    assert privacy.embedding_caches() == []
    cache_dir = config.cache_dir() / "embeddings"
    cache_dir.mkdir(parents=True)
    everyone = list(RAW[schema.TEXT]) + list(reviews[schema.TEXT])
    _cache_with(cache_dir / "encoder-a.sqlite3", everyone)   # lesson 03: raw; 07: scrubbed
    _cache_with(cache_dir / "encoder-b.sqlite3", list(RAW[schema.TEXT]))
    export_dir = config.reports_dir() / "export" / "textrec" / "1"
    export_dir.mkdir(parents=True)
    (export_dir / "user_ids.txt").write_text(f"{pseudonym}\nu_other\n")   # a served export

    report = privacy.forget_user(pseudonym, reviews, raw_reviews=RAW, raw_user_id="A_REAL_ID_1",
                                 pseudonym=pseudonym)
    # Their 2 raw + 2 scrubbed texts (one is the same scrubbed and raw) from cache a, 2 from b.
    assert sorted(report.cache_rows_deleted.values()) == [2, 3]
    for cache in privacy.embedding_caches():
        with sqlite3.connect(cache) as connection:
            keys = {row[0] for row in connection.execute("SELECT text_sha1 FROM vectors")}
        assert text_key("another person's long review text here") in keys
        assert not keys & {text_key(t) for t in everyone[:2] + list(reviews[schema.TEXT][:2])}
    # The export still holds their pseudonym: the report names it, and says what is not covered.
    assert set(report.hits["needle"]) == {"user id"}       # the data's user id is the pseudonym
    assert report.hits["file"].str.endswith("user_ids.txt").all()
    summary = report.summary()
    assert "1 trace(s) left" in summary and "user_ids.txt: user id" in summary
    assert "Not covered by this code: trained model weights" in summary
    assert any("served export" in line for line in privacy.NOT_COVERED)
    (export_dir / "user_ids.txt").write_text("u_other\n")                # re-exported
    again = privacy.forget_user(pseudonym, reviews, raw_reviews=RAW,
                                raw_user_id="A_REAL_ID_1", pseudonym=pseudonym)
    assert again.hits.empty and "nothing of theirs found" in again.summary()


# -- PII scrubber on a held-out-style set ---------------------------------------------------------

def _scrubbed(snippet: str, kind: str, fragments: list) -> bool:
    text = privacy.scrub_text(snippet).text
    return f"[{kind}]" in text and not any(fragment in text for fragment in fragments)


def test_pii_recall_and_clean_text_on_a_held_out_style_set():
    missed = [snippet for snippet, kind, fragments in PII
              if not _scrubbed(snippet, kind, fragments)]
    damaged = [snippet for snippet in CLEAN if privacy.scrub_text(snippet).text != snippet]
    recall = 1 - len(missed) / len(PII)
    assert len(PII) >= 40 and len(CLEAN) >= 40
    assert recall >= 0.95, missed
    assert damaged == []


@pytest.mark.parametrize("snippet, kind, fragments",
                         [case for case in PII if case[1] in ("PHONE", "HANDLE", "ADDRESS")][:12])
def test_the_audits_misses_are_caught(snippet, kind, fragments):
    assert _scrubbed(snippet, kind, fragments), privacy.scrub_text(snippet).text


def test_the_audits_examples():
    cases = {"+44 20 7946 0958": "[PHONE]", "+49 30 12345678": "[PHONE]",
             "+33 1 23 45 67 89": "[PHONE]", "@name.part.92": "[HANDLE]",
             "221B Baker Street": "[ADDRESS]",
             "1234 Elm Street, Springfield, IL 62704": "[ADDRESS]"}
    for text, expected in cases.items():
        assert privacy.scrub_text(text).text == expected, text
    for product in ("serial 555-123-4567", "part no. 555-123-4567", "SKU 555.123.4567"):
        assert privacy.scrub_text(product).text == product
