"""Forgetting a user: remove their data, rebuild what was made from it, prove it is gone.

A user's reviews reach many files: the prepared data and its split, the cleaning report (it
lists removed rows by user), their interest vector, every item text vector their reviews went
into, the score matrix and recommendation lists, the served export (its user table holds their
pseudonym and vector) and the embedding cache (keyed by a hash of each text, which anyone
holding the text can recompute, with the text's vector). The cache holds the texts as they
were embedded: lesson 03 and the pipeline embed the *unscrubbed* texts, lesson 07 the scrubbed
ones, so both versions must be forgotten. To forget:

1. :func:`remove_user`: drop their rows from the reviews, the split and the cleaning report;
2. rebuild everything downstream from what is left (:func:`build_artefacts` here: vectors,
   scores, top-k lists; the pipeline: ``textrec pipeline``, which also retrains and re-exports);
3. :func:`forget_user` (or :func:`forget_cache_entries` for one cache): delete the rows of every
   version of their texts (scrubbed and raw) from every embedding cache (by default the
   course's shared caches under ``config.cache_dir()/embeddings``, not a copy), with
   ``secure_delete`` on, then ``VACUUM``: a plain ``DELETE`` leaves the bytes in free pages;
4. :func:`search_artefacts` (``forget_user`` does it over :func:`course_artefacts`): search
   every file written, byte by byte (and inside compressed parquet and gzip files), for their
   raw id, their pseudonym, their texts and summaries (scrubbed and raw) and the texts' cache
   keys. A hit left after forgetting names a file still to rebuild or delete.

What this code does **not** cover (also :data:`NOT_COVERED`): trained model weights (retrain
them, or bound what one user can leave in them with user-level DP, which limits but does not
erase their influence); the served export until it is rebuilt from a retrained model (the
search finds their pseudonym in it until then); the publisher's raw download; notebook
outputs; and backups, logs and copies elsewhere.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from textrec import config
from textrec.data import schema, splits
from textrec.text.cache import text_key

NOT_COVERED = (
    "trained model weights (the joint model, the DP models): retrain without the user, or rely "
    "on user-level DP, which bounds but does not erase their influence",
    "the served export (reports/export): its user table keeps their pseudonym and vector until "
    "it is rebuilt from a retrained model; the search lists it until then",
    "the publisher's raw download (data/raw): the original file is not rewritten",
    "notebook outputs, logs, backups and copies on other machines",
)


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


def user_needles(reviews: pd.DataFrame, user_id, min_length: int = 12, *,
                 raw_reviews: pd.DataFrame | None = None, raw_user_id=None,
                 pseudonym: str | None = None) -> dict[str, bytes]:
    """What must not remain once ``user_id`` is forgotten: their id, each of their texts and
    summaries that occur in no other user's text or summary (at least ``min_length``
    characters), and the texts' cache keys. ``raw_reviews``: the same reviews before
    scrubbing, where the user is ``raw_user_id`` (default ``user_id``): their texts and cache
    keys too (the unscrubbed versions are what lesson 03 and the pipeline embed).
    ``pseudonym``: searched too."""
    needles = {"user id": str(user_id).encode()}
    if raw_user_id is not None and str(raw_user_id) != str(user_id):
        needles["raw user id"] = str(raw_user_id).encode()
    if pseudonym is not None and str(pseudonym) != str(user_id):
        needles["pseudonym"] = str(pseudonym).encode()
    for text in _own_texts(reviews, user_id, min_length, raw_reviews,
                           user_id if raw_user_id is None else raw_user_id):
        n = sum(key.startswith("text ") for key in needles)
        needles[f"text {n}"] = text.encode("utf-8", "surrogatepass")
        needles[f"cache key {n}"] = text_key(text).encode("ascii")
    return needles


def _own_texts(reviews, user_id, min_length, raw_reviews=None, raw_user_id=None,
               exclusive: bool = True) -> list[str]:
    """The user's texts and summaries (scrubbed, then raw), each once, leaving out those that
    occur inside another user's text or summary when ``exclusive``."""
    texts = []
    for frame, user in ((reviews, user_id), (raw_reviews, raw_user_id)):
        if frame is None:
            continue
        mine = frame[schema.USER] == user
        columns = [c for c in (schema.TEXT, schema.SUMMARY) if c in frame]
        # A text that occurs inside another user's text or summary proves nothing when found.
        others = "\x00".join(str(t) for c in columns for t in frame.loc[~mine, c].dropna()
                              ) if exclusive else ""
        texts += [t for c in columns for t in frame.loc[mine, c].dropna()
                  if isinstance(t, str) and len(t) >= min_length and t not in others]
    return list(dict.fromkeys(texts))


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


def course_artefacts() -> list[Path]:
    """The folders the course writes a user's data into, those that exist: the reports
    (pipeline outputs and the export), the prepared data and the embedding caches."""
    folders = [config.reports_dir(), config.data_dir() / "prepared",
               config.cache_dir() / "embeddings"]
    return [folder for folder in folders if folder.exists()]


def embedding_caches() -> list[Path]:
    """Every embedding cache file of the course (one per encoder)."""
    folder = config.cache_dir() / "embeddings"
    return sorted(folder.glob("*.sqlite3")) if folder.is_dir() else []


@dataclasses.dataclass
class ForgetReport:
    """What :func:`forget_user` deleted and what the search still found."""

    user: str
    cache_rows_deleted: dict          # cache file -> rows deleted
    searched: list                    # files and folders searched
    hits: pd.DataFrame                # file, needle, found in (empty: nothing left)
    not_covered: tuple = NOT_COVERED

    def summary(self) -> str:
        lines = [f"forgot {self.user}: {sum(self.cache_rows_deleted.values()):,} cache rows "
                 f"deleted in {len(self.cache_rows_deleted)} cache file(s); searched "
                 f"{len(self.searched)} location(s): "
                 + ("nothing of theirs found" if self.hits.empty else
                    f"{len(self.hits)} trace(s) left, in {self.hits['file'].nunique()} file(s) "
                    "to rebuild or delete:")]
        lines += [f"  {file}: {', '.join(group['needle'])}"
                  for file, group in self.hits.groupby("file")]
        lines.append("Not covered by this code: " + "; ".join(self.not_covered) + ".")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def forget_user(user_id, reviews: pd.DataFrame, *, raw_reviews: pd.DataFrame | None = None,
                raw_user_id=None, pseudonym: str | None = None, caches=None, search=None,
                min_length: int = 12) -> ForgetReport:
    """Delete ``user_id``'s texts (scrubbed and, from ``raw_reviews``, raw; texts and
    summaries) from every embedding cache, then search every artefact for what is left.

    ``caches``: cache files (default :func:`embedding_caches`, the shared ones); ``search``:
    files and folders (default :func:`course_artefacts` plus ``caches``). Run it after
    removing the user and rebuilding (see the module docstring); the report's ``hits`` list
    what still holds a trace of them, and ``not_covered`` what this code cannot reach.
    """
    needles = user_needles(reviews, user_id, min_length, raw_reviews=raw_reviews,
                           raw_user_id=raw_user_id, pseudonym=pseudonym)
    texts = _own_texts(reviews, user_id, 1, raw_reviews,
                       user_id if raw_user_id is None else raw_user_id, exclusive=False)
    caches = [Path(c) for c in (embedding_caches() if caches is None else caches)]
    deleted = {str(cache): forget_cache_entries(cache, texts) for cache in caches}
    places = [Path(p) for p in (course_artefacts() if search is None else search)]
    places += [c for c in caches if not any(_inside(c, p) for p in places)]
    hits = search_artefacts([p for p in places if p.exists()], needles)
    return ForgetReport(str(user_id), deleted, [str(p) for p in places], hits)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
