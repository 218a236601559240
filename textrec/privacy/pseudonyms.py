"""Pseudonymisation: user ids replaced by keyed hashes, reviewer names dropped.

``pseudonym = "u_" + HMAC-SHA256(key, user id)[:16 hex digits]``

* the same id and key give the same pseudonym, so a user's reviews stay linked (models still
  work) and a later data release lines up with an earlier one;
* without the key, nobody can recompute a pseudonym from an id. A plain SHA-256 of the id would
  not do: Amazon ids are short, and anyone could hash a list of known ids to find them;
* another key gives unrelated pseudonyms: rotate the key to unlink releases.

The key (env ``TEXTREC_PSEUDONYM_KEY``, or a key file, see ``textrec.privacy.keys``) must be
kept away from the data. This is *pseudonymisation*, not anonymisation: the reviews' text,
times and items can still single a person out, and under the GDPR pseudonymised data are still
personal data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.privacy import keys

PREFIX = "u_"
HEX_DIGITS = 16  # 64 bits: collisions are unlikely below billions of users, and checked
NAME_COLUMNS = ("reviewerName", "reviewer_name", "user_name", "profileName", "name")
MIN_KEY_LENGTH = 16
HOW_TO_MAKE = 'python -c "import secrets; print(secrets.token_hex(32))"'


def pseudonym_key(key=None) -> bytes:
    """The pseudonymisation key as bytes: ``key``, else ``TEXTREC_PSEUDONYM_KEY``, else the file
    named by ``TEXTREC_PSEUDONYM_KEY_FILE``. At least 16 characters."""
    secret = keys.load_secret(keys.PSEUDONYM_KEY_ENV, key, HOW_TO_MAKE)
    if len(secret) < MIN_KEY_LENGTH:
        raise ValueError(f"the pseudonym key is {len(secret)} characters; use at least "
                         f"{MIN_KEY_LENGTH} random ones ({HOW_TO_MAKE})")
    return secret.encode("utf-8")


def _keyed_hash(secret: bytes, user_id) -> str:
    digest = hmac.new(secret, str(user_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


def demo_key(seed: int = 42) -> str:
    """A fixed, public key for course runs without a configured one (lessons 07 and 08, the
    pipeline). Anyone can recompute it, so it protects nothing: a real deployment sets
    ``TEXTREC_PSEUDONYM_KEY``."""
    return hashlib.sha256(f"textrec demo pseudonym key {seed}".encode()).hexdigest()


def pseudonymize(user_id, key=None) -> str:
    """The pseudonym of one id (see the module docstring)."""
    return _keyed_hash(pseudonym_key(key), user_id)


def pseudonymize_ids(ids, key=None) -> np.ndarray:
    """Pseudonyms of many ids: object array, same order. Distinct ids that collide raise."""
    secret = pseudonym_key(key)
    ids = np.asarray(ids, dtype=object)
    mapping = {user: _keyed_hash(secret, user) for user in pd.unique(ids)}
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("two ids got the same pseudonym; raise HEX_DIGITS")
    return np.array([mapping[user] for user in ids], dtype=object)


def pseudonymize_reviews(reviews: pd.DataFrame, key=None, columns=(schema.USER,),
                         drop=NAME_COLUMNS) -> pd.DataFrame:
    """A copy of ``reviews`` with the id ``columns`` pseudonymised and name columns dropped."""
    missing = [c for c in columns if c not in reviews]
    if missing:
        raise ValueError(f"reviews frame lacks columns {missing}")
    frame = reviews.drop(columns=[c for c in drop if c in reviews])
    for column in columns:
        frame[column] = pseudonymize_ids(frame[column].astype(str).to_numpy(), key)
    return frame


def pseudonymize_prepared(data, key=None):
    """A copy of ``data`` (``PreparedData``) with user ids pseudonymised everywhere: the
    reviews, the three splits and the cleaning report's removed rows."""
    secret = pseudonym_key(key)
    split = dataclasses.replace(data.split, **{
        name: pseudonymize_reviews(frame, secret) for name, frame in data.split.frames().items()})
    removed = data.cleaning_report.removed
    report = dataclasses.replace(data.cleaning_report,
                                 removed=pseudonymize_reviews(removed, secret))
    return dataclasses.replace(data, reviews=pseudonymize_reviews(data.reviews, secret),
                               split=split, cleaning_report=report)
