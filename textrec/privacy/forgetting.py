"""Forgetting a user: remove their data, rebuild what was made from it, prove it is gone.

A user's reviews reach many files: the prepared data and its split, the cleaning report (it
lists removed rows by user), their interest vector, every item text vector their reviews went
into, the score matrix and recommendation lists, and the embedding cache (keyed by a hash of
each text, which anyone holding the text can recompute, with the text's vector). To forget:

1. :func:`remove_user`: drop their rows from the reviews, the split and the cleaning report;
2. rebuild everything downstream from what is left (:func:`build_artefacts` here: vectors,
   scores, top-k lists);
3. :func:`forget_cache_entries`: delete their texts' rows from the SQLite embedding cache with
   ``secure_delete`` on, then ``VACUUM``: a plain ``DELETE`` leaves the bytes in free pages;
4. :func:`search_artefacts`: search every file written, byte by byte (and inside compressed
   parquet and gzip files), for their id, their texts and their texts' cache keys.

Trained model weights are not rebuilt by deleting rows: retrain them (or bound what one user
can leave in them with user-level DP, which limits but does not erase their influence). Backups,
logs and copies elsewhere are out of reach of this code.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from textrec.data import schema, splits
from textrec.text.cache import text_key


def remove_user(data, user_id):
    """A copy of ``data`` (``PreparedData``) without any row of ``user_id``."""
    def keep(frame):
        return frame[frame[schema.USER] != user_id].reset_index(drop=True)

    if not (data.reviews[schema.USER] == user_id).any():
        raise ValueError(f"user {user_id!r} is not in the data")
    split = splits.Split(*(keep(f) for f in data.split.frames().values()),
                         protocol=data.split.protocol, notes=dict(data.split.notes))
    report = dataclasses.replace(data.cleaning_report, removed=keep(data.cleaning_report.removed))
    return dataclasses.replace(data, reviews=keep(data.reviews), split=split,
                               cleaning_report=report)


def user_needles(reviews: pd.DataFrame, user_id, min_length: int = 12) -> dict[str, bytes]:
    """What must not remain once ``user_id`` is forgotten: their id, each of their texts that
    no other user wrote (at least ``min_length`` characters), and those texts' cache keys."""
    mine = reviews[schema.USER] == user_id
    others = set(reviews.loc[~mine, schema.TEXT]) | set(reviews.loc[~mine, schema.SUMMARY])
    needles = {"user id": str(user_id).encode()}
    texts = [t for t in reviews.loc[mine, schema.TEXT] if len(t) >= min_length and t not in others]
    for n, text in enumerate(dict.fromkeys(texts)):
        needles[f"text {n}"] = text.encode("utf-8")
        needles[f"cache key {n}"] = text_key(text).encode("ascii")
    return needles


def forget_cache_entries(cache_path, texts) -> int:
    """Delete the cache rows of ``texts`` (every ``max_length``) and reclaim their pages;
    returns the number of rows deleted."""
    cache_path = Path(cache_path)
    if not cache_path.is_file():
        return 0
    keys = sorted({text_key(t) for t in texts if isinstance(t, str)})
    connection = sqlite3.connect(cache_path)
    try:
        connection.execute("PRAGMA secure_delete = ON")
        deleted = 0
        with connection:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                deleted += connection.execute(
                    f"DELETE FROM vectors WHERE text_sha1 IN ({','.join('?' * len(chunk))})",
                    chunk).rowcount
        connection.execute("VACUUM")
    finally:
        connection.close()
    return deleted


def _decoded_views(path: Path):
    """Extra byte views of compressed files: parquet cells, gzip content."""
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception:  # noqa: BLE001 (encrypted or not a table: raw bytes only)
            return []
        return ["\n".join(frame[c].astype(str)).encode("utf-8", "surrogatepass")
                for c in frame.columns]
    if path.suffix == ".gz":
        try:
            return [gzip.decompress(path.read_bytes())]
        except OSError:
            return []
    return []


def search_artefacts(paths, needles: dict[str, bytes]) -> pd.DataFrame:
    """Every (file, needle) where a needle's bytes occur: in the raw file, or in its decoded
    parquet cells or gzip content. ``paths``: files and folders (searched recursively)."""
    files = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    hits = []
    for path in files:
        raw = path.read_bytes()
        views = [("raw bytes", raw)] + [("decoded", v) for v in _decoded_views(path)]
        for name, needle in needles.items():
            for how, data in views:
                if needle in data:
                    hits.append({"file": str(path), "needle": name, "found in": how})
                    break
    return pd.DataFrame(hits, columns=["file", "needle", "found in"])


def build_artefacts(data, embedder, folder, k: int = 10) -> list[Path]:
    """Prepared data, interest and item vectors, the score matrix and top-``k`` lists of the
    text-only recommender (lesson 03), written under ``folder``; returns the folders/files."""
    from textrec import interests

    folder = Path(folder)
    prepared = data.save(folder / "prepared")
    train = data.split.train
    review_vectors, description_vectors = interests.embed_train_and_items(train, data.items,
                                                                          embedder)
    model = interests.fit_text_recommender(train, data.items, review_vectors, description_vectors)
    out = folder / "recommender"
    out.mkdir(parents=True, exist_ok=True)
    for kind, vectors in (("user", model.users), ("item", model.items)):
        np.save(out / f"{kind}_vectors.npy", vectors.vectors)
        (out / f"{kind}_ids.json").write_text(json.dumps([str(i) for i in vectors.ids]))
    scores = model.scores()
    np.save(out / "scores.npy", scores)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    pd.DataFrame({schema.USER: np.repeat(model.users.ids, top.shape[1]),
                  "rank": np.tile(np.arange(1, top.shape[1] + 1), len(top)),
                  schema.ITEM: model.items.ids[top.ravel()]}).to_parquet(
                      out / "recommendations.parquet", index=False)
    return [prepared, out]
