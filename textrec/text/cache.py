"""An on-disk cache of sentence vectors, so each text is embedded once.

Layout: one SQLite file per encoder,
``config.cache_dir() / "embeddings" / "<encoder name>.sqlite3"``, with one table::

    vectors(max_length INTEGER, text_sha1 TEXT, truncated INTEGER, vector BLOB,
            PRIMARY KEY (max_length, text_sha1))

A row's key is (max_length, SHA-1 of the UTF-8 text); the encoder is the file. ``vector`` is the
float32 bytes of one unit-length vector; ``truncated`` records whether the text was cut at
``max_length`` tokens. Delete the file to clear an encoder's cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
from pathlib import Path

import numpy as np

from textrec import config

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    max_length INTEGER NOT NULL,
    text_sha1 TEXT NOT NULL,
    truncated INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (max_length, text_sha1)
)
"""
_CHUNK = 500  # keys per SELECT, below SQLite's limit on bound parameters


def text_key(text: str) -> str:
    """The cache key of a text: the hex SHA-1 of its UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def default_cache_path(encoder_name: str) -> Path:
    """``config.cache_dir() / "embeddings" / "<encoder name>.sqlite3"`` (name made file-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]+", "--", encoder_name).strip(".") or "encoder"
    return config.cache_dir() / "embeddings" / f"{safe}.sqlite3"


class EmbeddingCache:
    """Vectors of one encoder, keyed by (max_length, text)."""

    def __init__(self, path: Path, dim: int):
        self.path = Path(path)
        self.dim = int(dim)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        connection = sqlite3.connect(self.path, timeout=60)
        try:
            with connection:  # commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def get_many(self, keys: list[str], max_length: int) -> dict[str, tuple[np.ndarray, bool]]:
        """The cached ``(vector, truncated)`` of each key found; missing keys are left out."""
        found = {}
        with self._connect() as connection:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT text_sha1, truncated, vector FROM vectors "
                    f"WHERE max_length = ? AND text_sha1 IN ({marks})",
                    [int(max_length), *chunk],
                )
                for key, truncated, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dim,) and np.all(np.isfinite(vector)):
                        found[key] = (vector, bool(truncated))
        return found

    def put_many(self, keys, vectors: np.ndarray, truncated, max_length: int) -> None:
        """Store ``vectors`` (shape [number of keys, dim]) under ``keys``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [
            (int(max_length), key, int(bool(flag)), vector.tobytes())
            for key, vector, flag in zip(keys, vectors, truncated)
        ]
        with self._connect() as connection:
            connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as connection:
            return connection.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
