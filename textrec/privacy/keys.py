"""Secrets kept outside the data and the repository: pseudonym and encryption keys.

A key is read, in order, from the ``key`` argument, the environment variable (e.g.
``TEXTREC_PSEUDONYM_KEY``), or a key file named by ``<variable>_FILE`` (e.g.
``TEXTREC_PSEUDONYM_KEY_FILE=~/.config/textrec/pseudonym.key``). A key file inside the
repository checkout is refused: it would end up committed next to the data it protects.
Missing keys raise :class:`MissingKeyError` with the commands that make one.
"""

from __future__ import annotations

import os
from pathlib import Path

from textrec import config

PSEUDONYM_KEY_ENV = "TEXTREC_PSEUDONYM_KEY"
ENCRYPTION_KEY_ENV = "TEXTREC_ENCRYPTION_KEY"


class MissingKeyError(RuntimeError):
    """No key was given and none is configured."""


def _inside_repository(path: Path) -> bool:
    root = config._checkout_root()  # noqa: SLF001 (the same notion of "the repository")
    if root is None:
        return False
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def read_key_file(path) -> str:
    """The key stored in ``path`` (surrounding whitespace removed); refuses a path inside the
    repository checkout."""
    path = Path(path).expanduser()
    if _inside_repository(path):
        raise ValueError(f"key file {path} is inside the repository; keep keys outside it "
                         "(e.g. ~/.config/textrec/) so they are never committed with the data")
    if not path.is_file():
        raise MissingKeyError(f"key file {path} does not exist")
    key = path.read_text().strip()
    if not key:
        raise MissingKeyError(f"key file {path} is empty")
    return key


def load_secret(env: str, key=None, how_to_make: str = "") -> str:
    """The key from ``key``, env var ``env``, or the file named by ``<env>_FILE``."""
    if key is not None:
        key = key.decode() if isinstance(key, bytes) else str(key)
        if not key.strip():
            raise MissingKeyError("the key given is empty")
        return key.strip()
    if os.environ.get(env, "").strip():
        return os.environ[env].strip()
    if os.environ.get(f"{env}_FILE", "").strip():
        return read_key_file(os.environ[f"{env}_FILE"])
    raise MissingKeyError(
        f"no key: set {env} (or {env}_FILE to a key file outside the repository), or pass "
        f"key=...{'. Make one with: ' + how_to_make if how_to_make else ''}")
