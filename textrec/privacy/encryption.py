"""Encryption at rest: the prepared data and the embedding cache, sealed with Fernet.

Fernet (the ``cryptography`` package) is AES-128-CBC with an HMAC-SHA256 tag: a file
encrypted with it can be read back only with the same key, and any change to it, or the wrong
key, is detected (``InvalidToken``, reported here as :class:`WrongKeyError`). The key is 32
random bytes, URL-safe base64 encoded; keep it outside the repository, in
``TEXTREC_ENCRYPTION_KEY`` or a key file named by ``TEXTREC_ENCRYPTION_KEY_FILE``.

* :func:`encrypt_file` writes ``<name>.enc`` next to a file and, by default, deletes the
  plaintext (overwritten with zeros first: on SSDs and copy-on-write file systems that is not a
  guarantee, so encrypt before data first touch such a disk, or use full-disk encryption);
* :func:`decrypt_file` writes the plaintext back (for SQLite, which must open a file);
  :func:`read_parquet` decrypts a table in memory without writing it;
* :func:`encrypt_folder` / :func:`decrypt_folder` do every file of a folder (e.g. the
  prepared data written by ``PreparedData.save``).

What it does not do: protect data while it is in use (decrypted files and memory), hide file
names and sizes, or manage keys (rotation, escrow). Fernet reads a whole file into memory,
fine for the course's files (megabytes), not for many gigabytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken

from textrec.privacy import keys

SUFFIX = ".enc"
HOW_TO_MAKE = ('python -c "from cryptography.fernet import Fernet; '
               'print(Fernet.generate_key().decode())"')


class WrongKeyError(ValueError):
    """The key does not decrypt the file: not the key it was encrypted with, or the file was
    altered."""


def generate_key() -> str:
    """A new random Fernet key (store it outside the repository)."""
    return Fernet.generate_key().decode("ascii")


def fernet(key=None) -> Fernet:
    """A ``Fernet`` for ``key``, else ``TEXTREC_ENCRYPTION_KEY`` (or its ``_FILE``)."""
    secret = keys.load_secret(keys.ENCRYPTION_KEY_ENV, key, HOW_TO_MAKE)
    try:
        return Fernet(secret.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError(f"not a Fernet key (32 random bytes, URL-safe base64, 44 characters): "
                         f"{error}. Make one with: {HOW_TO_MAKE}") from None


def encrypt_bytes(data: bytes, key=None) -> bytes:
    return fernet(key).encrypt(data)


def decrypt_bytes(token: bytes, key=None, what: str = "data") -> bytes:
    """Plaintext of a Fernet token; :class:`WrongKeyError` when the key does not open it."""
    try:
        return fernet(key).decrypt(token)
    except InvalidToken:
        raise WrongKeyError(f"wrong key: {what} cannot be decrypted with this key (it was "
                            "encrypted with another key, or it was altered)") from None


def _wipe(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
    path.unlink()


def encrypt_file(path, key=None, remove_plaintext: bool = True) -> Path:
    """Encrypt ``path`` into ``path + ".enc"``; returns the new path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nothing to encrypt at {path}")
    if path.suffix == SUFFIX:
        raise ValueError(f"{path} is already encrypted")
    target = path.with_name(path.name + SUFFIX)
    target.write_bytes(encrypt_bytes(path.read_bytes(), key))
    if remove_plaintext:
        _wipe(path)
    return target


def decrypt_file(path, key=None, out=None, remove_encrypted: bool = False) -> Path:
    """Decrypt ``path`` (a ``.enc`` file) into ``out`` (default: the name without ``.enc``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nothing to decrypt at {path}")
    if out is None:
        if path.suffix != SUFFIX:
            raise ValueError(f"{path} does not end in {SUFFIX}; pass out=")
        out = path.with_name(path.name[: -len(SUFFIX)])
    out = Path(out)
    out.write_bytes(decrypt_bytes(path.read_bytes(), key, what=str(path)))
    if remove_encrypted:
        path.unlink()
    return out


def encrypt_folder(folder, key=None, remove_plaintext: bool = True) -> list[Path]:
    """Encrypt every file under ``folder`` not already ``.enc``; returns the new paths."""
    files = [p for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.suffix != SUFFIX]
    fernet(key)  # fail on a bad key before touching anything
    return [encrypt_file(p, key, remove_plaintext) for p in files]


def decrypt_folder(folder, key=None, remove_encrypted: bool = True) -> list[Path]:
    """Decrypt every ``.enc`` file under ``folder`` in place; returns the plaintext paths."""
    files = sorted(Path(folder).rglob(f"*{SUFFIX}"))
    for path in files:  # check the key on every file before writing any plaintext
        decrypt_bytes(path.read_bytes(), key, what=str(path))
    return [decrypt_file(p, key, remove_encrypted=remove_encrypted) for p in files]


def read_parquet(path, key=None) -> pd.DataFrame:
    """A table from an encrypted parquet file, decrypted in memory only."""
    path = Path(path)
    return pd.read_parquet(io.BytesIO(decrypt_bytes(path.read_bytes(), key, what=str(path))))
