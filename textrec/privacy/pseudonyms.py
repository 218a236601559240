"""Pseudonymisation: user ids replaced by keyed hashes, reviewer names dropped.

``pseudonym = "u_" + HMAC-SHA256(key, user id)[:16 hex digits]``

* the same id and key give the same pseudonym, so a user's reviews stay linked (models still
  work) and a later data release lines up with an earlier one;
* without the key, nobody can recompute a pseudonym from an id. A plain SHA-256 of the id would
  not do: Amazon ids are short, and anyone could hash a list of known ids to find them;
* another key gives unrelated pseudonyms: rotate the key to unlink releases.

The key (env ``TEXTREC_PSEUDONYM_KEY``, or a key file, see ``textrec.privacy.keys``) must be
kept away from the data. Where none is configured, the export and the pipeline use this
installation's own random key (:func:`installation_key`: 32 random bytes made once in
``$TEXTREC_HOME/keys/pseudonym.key``, readable by its owner only), never a public one: with a
public key, anyone holding a list of reviewer ids could recompute every pseudonym. Only lesson
07 uses :func:`demo_key`, explicitly, to show a key anyone can recompute.

This is *pseudonymisation*, not anonymisation: the reviews' text,
times and items can still single a person out, and under the GDPR pseudonymised data are still
personal data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from textrec import config
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
    """A fixed, public key for lesson 07's explicit demo only. Anyone can recompute it, so it
    protects nothing: exports use the configured key or :func:`installation_key`."""
    return hashlib.sha256(f"textrec demo pseudonym key {seed}".encode()).hexdigest()


def installation_key_path() -> Path:
    """Where :func:`installation_key` keeps this installation's key."""
    return config.home() / "keys" / "pseudonym.key"


def installation_key() -> tuple[str, Path]:
    """(this installation's random pseudonym key, its file): made once with ``secrets`` (64
    hex digits) in :func:`installation_key_path`, the folder and the file readable by their
    owner only (modes 0700 and 0600; wider modes found later are narrowed)."""
    path = installation_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass                          # made before (or by a concurrent process): read it
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        os.chmod(path, 0o600)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the installation key {path} holds {len(key)} characters; delete "
                         "the file to make a new one (pseudonyms made with the old key will "
                         "no longer match)")
    return key, path


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
