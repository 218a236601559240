"""Review vectors and user interest vectors as sharded Parquet files, and the reader the lessons
use.

An embedding job (:mod:`textrec.scale.embedding_job`) writes one folder::

    <out>/reviews-00000-of-00002.parquet ...   one row per review: ids and its text vector
    <out>/users-00000-of-00002.parquet ...     one row per user: their interest vector
    <out>/manifest.json                        encoder, counts, load and cleaning reports, timing

Review rows: ``source`` (the review file's name), ``order`` (its line or row in that file),
``user_id``, ``item_id``, ``rating``, ``timestamp``, ``has_text`` and ``vector`` (float32
[dim]; zeros for a review without text). User rows: ``user_id``, ``reviews`` (with text),
``empty`` (no usable text: the vector is zeros) and ``vector`` (the unit mean of their review
vectors, as :func:`textrec.interests.interest_vectors`). No review text is written.

:func:`read_embedded` reads a folder back, sorted (reviews by ``source, order``; users by id),
so two writers that agree give equal tables whatever the order of their shards.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.data.review_vectors import ReviewVectors
from textrec.interests.vectors import TextVectors
from textrec.scale.sources import SOURCE

VECTOR = "vector"
HAS_TEXT = "has_text"
N_REVIEWS = "reviews"
EMPTY = "empty"
REVIEW_PREFIX, USER_PREFIX, MANIFEST = "reviews", "users", "manifest.json"
REVIEW_COLUMNS = (SOURCE, schema.ORDER, schema.USER, schema.ITEM, schema.RATING,
                  schema.TIMESTAMP, HAS_TEXT)


def review_schema(dim: int):
    """The Parquet schema of the review shards (vectors as fixed-size float32 lists)."""
    import pyarrow as pa

    return pa.schema([(SOURCE, pa.string()), (schema.ORDER, pa.int64()),
                      (schema.USER, pa.string()), (schema.ITEM, pa.string()),
                      (schema.RATING, pa.float32()), (schema.TIMESTAMP, pa.int64()),
                      (HAS_TEXT, pa.bool_()), (VECTOR, pa.list_(pa.float32(), int(dim)))])


def user_schema(dim: int):
    import pyarrow as pa

    return pa.schema([(schema.USER, pa.string()), (N_REVIEWS, pa.int64()), (EMPTY, pa.bool_()),
                      (VECTOR, pa.list_(pa.float32(), int(dim)))])


@dataclasses.dataclass
class EmbeddedReviews:
    """What an embedding job wrote: the reviews with their vectors (sorted by source, order),
    the users' interest vectors (sorted by id) and the manifest."""

    reviews: ReviewVectors
    users: TextVectors
    manifest: dict

    def summary(self) -> str:
        return (f"{len(self.reviews):,} review vectors and {len(self.users):,} user interest "
                f"vectors ({self.users.n_empty:,} without text), {self.reviews.dim} dims, "
                f"encoder {self.manifest.get('encoder', '?')}")


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


def write_frames(folder: str | Path, reviews: pd.DataFrame, review_vectors: np.ndarray,
                 users: TextVectors, manifest: dict, shards: int = 1) -> Path:
    """Write the same files a job writes from in-memory results (the in-process reference):
    ``reviews`` with the :data:`REVIEW_COLUMNS`, their vectors, the users' vectors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dim = int(review_vectors.shape[1])
    counts = users_review_counts(reviews, users.ids)
    tables = {
        REVIEW_PREFIX: pa.Table.from_pandas(
            reviews[list(REVIEW_COLUMNS)].assign(**{VECTOR: list(review_vectors)}),
            schema=review_schema(dim), preserve_index=False),
        USER_PREFIX: pa.Table.from_pandas(
            pd.DataFrame({schema.USER: users.ids.astype(str), N_REVIEWS: counts,
                          EMPTY: users.empty, VECTOR: list(users.vectors)}),
            schema=user_schema(dim), preserve_index=False),
    }
    for prefix, table in tables.items():
        bounds = np.linspace(0, table.num_rows, shards + 1).astype(int)
        for index in range(shards):
            part = table.slice(bounds[index], bounds[index + 1] - bounds[index])
            pq.write_table(part, folder / shard_name(prefix, index, shards))
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return folder


def users_review_counts(reviews: pd.DataFrame, user_ids) -> np.ndarray:
    """How many reviews with text each of ``user_ids`` has in ``reviews``."""
    counts = reviews.loc[reviews[HAS_TEXT].astype(bool), schema.USER].value_counts()
    return counts.reindex(pd.Index(user_ids, dtype=object), fill_value=0).to_numpy(np.int64)


def _read_shards(folder: Path, prefix: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    files = sorted(folder.glob(f"{prefix}-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no {prefix}-*.parquet shards in {folder}: is it the output "
                                "folder of an embedding job?")
    return pd.concat([pq.read_table(path).to_pandas() for path in files], ignore_index=True)


def _matrix(column: pd.Series, dim: int) -> np.ndarray:
    if column.empty:
        return np.zeros((0, dim), np.float32)
    return np.stack(column.to_numpy()).astype(np.float32)


def read_embedded(folder: str | Path) -> EmbeddedReviews:
    """Read an embedding job's folder (see the module docstring)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: the job did not finish, or "
                                f"{folder} is not an embedding job's output folder")
    manifest = json.loads(manifest_path.read_text())
    dim = int(manifest["dim"])
    reviews = _read_shards(folder, REVIEW_PREFIX).sort_values(
        [SOURCE, schema.ORDER], kind="stable").reset_index(drop=True)
    users = _read_shards(folder, USER_PREFIX).sort_values(
        schema.USER, kind="stable").reset_index(drop=True)
    vectors = _matrix(reviews.pop(VECTOR), dim)
    user_vectors = _matrix(users[VECTOR], dim)
    return EmbeddedReviews(
        reviews=ReviewVectors(reviews, vectors),
        users=TextVectors(users[schema.USER].to_numpy(object), user_vectors,
                          users[EMPTY].to_numpy(bool), "user"),
        manifest=manifest)
