"""Embedding review files: the steps a data-parallel job runs on each worker, and the
in-process reference the job must equal.

* :func:`prepare_reviews`: the course's cleaning (:func:`textrec.data.cleaning.clean_reviews`,
  without the k-core filter, a rule over the whole data) and PII scrubbing
  (:func:`textrec.privacy.scrub_reviews`). Every one of these rules compares reviews of the
  same user, so cleaning user by user (as the job does) equals cleaning everything at once;
* :func:`shared_embedder`: one :class:`textrec.text.TextEmbedder` (the XLA-compiled encoder)
  per worker process, loaded once and shared by the worker's threads;
* :func:`user_row`: a user's interest vector from the sum of their review vectors, as
  :func:`textrec.interests.interest_vectors` computes it;
* :func:`embed_in_process`: all of it in this process, the reference that the Beam job
  (:mod:`textrec.scale.beam_job`) is compared with: same ids, vectors within 1e-5.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from textrec.data import schema
from textrec.data.cleaning import clean_reviews
from textrec.data.errors import LoadReport
from textrec.scale import vector_files
from textrec.data.review_vectors import ReviewVectors
from textrec.scale.sources import SOURCE, iter_file_reviews, review_files


@dataclasses.dataclass(frozen=True)
class EmbeddingSettings:
    """What every worker needs to embed the same way: the encoder (None: the course's offline
    all-MiniLM-L6-v2; or a folder or Hub id), the tokens per text and the texts per batch
    (defaults: the profile's), the TensorFlow threads of each worker (None: TensorFlow's
    choice), and whether the encoder runs compiled with XLA (the embedder's default) or in
    TensorFlow's graph (no compile per shape: quicker for a few texts, slower for many)."""

    encoder: str | None = None
    max_length: int | None = None
    batch_size: int | None = None
    threads_per_worker: int | None = None
    compiled: bool = True


# ----------------------------------------------------------------- the shared per-user step


def prepare_reviews(frame: pd.DataFrame):
    """Clean and scrub reviews with the course's functions: ``(frame, cleaning report,
    scrub report)``. Rows are first put in ``(user, source, order)`` order, so that ties are
    broken the same way whether the reviews come all at once or one user at a time."""
    from textrec.privacy.pii import scrub_reviews

    frame = frame.sort_values([schema.USER, SOURCE, schema.ORDER], kind="stable")
    clean, cleaning = clean_reviews(frame, k=None)
    scrubbed, scrubbing = scrub_reviews(clean)
    return scrubbed, cleaning, scrubbing


def review_frame(reviews) -> pd.DataFrame:
    """Review dicts (a reader's) as a frame with the schema's columns and ``SOURCE``."""
    columns = [*schema.REVIEW_COLUMNS, SOURCE]
    return pd.DataFrame(list(reviews), columns=columns).astype(
        {schema.RATING: "float32", schema.TIMESTAMP: "int64", schema.ORDER: "int64"})


def has_text(texts) -> np.ndarray:
    """Whether each text has something to embed (blank texts get a zero vector)."""
    return np.array([isinstance(t, str) and bool(t.strip()) for t in texts], bool)


# ----------------------------------------------------------------- the in-process reference


def embed_in_process(source, out=None, settings: EmbeddingSettings | None = None,
                     embedder=None) -> vector_files.EmbeddedReviews:
    """The job's result computed in this process: read every file, :func:`prepare_reviews`,
    embed with one :class:`~textrec.text.TextEmbedder` (no cache), interest vectors with
    :func:`textrec.interests.interest_vectors`. Written to ``out`` when given."""
    from textrec import interests

    settings = settings or EmbeddingSettings()
    start = time.perf_counter()
    files = review_files(source)
    reports, rows = [], []
    for path in files:
        report = LoadReport(source=path.name)
        rows.extend(iter_file_reviews(path, report))
        reports.append(report)
    clean, cleaning, scrubbing = prepare_reviews(review_frame(rows))
    clean = clean.sort_values([SOURCE, schema.ORDER], kind="stable").reset_index(drop=True)
    embedder = embedder or _new_embedder(settings)
    vectors = interests.embed_texts(embedder, clean[schema.TEXT].tolist())
    users = interests.interest_vectors(clean, vectors)
    table = clean.assign(**{vector_files.HAS_TEXT: has_text(clean[schema.TEXT])})
    manifest = _manifest(embedder, settings, engine="in-process", workers=1,
                         seconds=time.perf_counter() - start, files=files,
                         reviews=len(clean), users=len(users),
                         counters={"removed in cleaning": cleaning.rows_in - cleaning.rows_out,
                                   "scrubbed reviews": scrubbing.rows_changed,
                                   "reviews embedded": int(table[vector_files.HAS_TEXT].sum())},
                         load_reports=[r.to_dict() for r in reports])
    if out is not None:
        vector_files.write_frames(out, table, vectors, users, manifest)
    reviews = table[list(vector_files.REVIEW_COLUMNS)]
    return vector_files.EmbeddedReviews(ReviewVectors(reviews, vectors), users, manifest)


def _new_embedder(settings: EmbeddingSettings):
    from textrec.text import TextEmbedder

    return TextEmbedder(settings.encoder, max_length=settings.max_length,
                        batch_size=settings.batch_size, use_cache=False,
                        compiled=settings.compiled)


def _manifest(embedder, settings, *, engine, workers, seconds, files, reviews, users, counters,
              load_reports) -> dict:
    return {"encoder": embedder.name, "dim": embedder.dim, "max_length": embedder.max_length,
            "batch_size": embedder.batch_size, "engine": engine, "workers": workers,
            "seconds": round(seconds, 3), "files": [Path(f).name for f in files],
            "reviews": int(reviews), "users": int(users), "counters": counters,
            "load_reports": load_reports}


# ----------------------------------------------------------------- on a worker

_EMBEDDERS: dict = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(settings: EmbeddingSettings):
    """One :class:`~textrec.text.TextEmbedder` per process and settings: a worker's threads
    (Beam may run several bundles at once in one worker) share one loaded model."""
    with _EMBEDDERS_LOCK:
        if settings not in _EMBEDDERS:
            if settings.threads_per_worker:
                import tensorflow as tf

                try:
                    tf.config.threading.set_intra_op_parallelism_threads(
                        settings.threads_per_worker)
                    tf.config.threading.set_inter_op_parallelism_threads(
                        settings.threads_per_worker)
                except RuntimeError:   # TensorFlow already ran an op in this process
                    pass
            _EMBEDDERS[settings] = _new_embedder(settings)
        return _EMBEDDERS[settings]


def user_row(element, dim: int) -> dict:
    """(user, (sum, count)) -> the user's Parquet row: the unit mean, or zeros when empty."""
    user, (total, count) = element
    vector = np.zeros(dim, np.float32)
    empty = total is None
    if not empty:
        norm = np.linalg.norm(total)
        empty = norm < 1e-6
        if not empty:
            vector = (total / norm).astype(np.float32)
    return {schema.USER: user, vector_files.N_REVIEWS: int(count), vector_files.EMPTY: bool(empty),
            vector_files.VECTOR: vector}


def encoder_dim(settings: EmbeddingSettings) -> int:
    """The width of the encoder's vectors, read from its configuration (no model is loaded)."""
    from transformers import AutoConfig

    from textrec.text import convert
    from textrec.text.encoder import resolve_encoder

    resolved = resolve_encoder(settings.encoder)
    with convert.quiet_transformers():
        return int(AutoConfig.from_pretrained(resolved.local_dir or resolved.hub_id).hidden_size)


def batch_size(settings: EmbeddingSettings) -> int:
    """Texts per embedding batch: the settings', else the profile's."""
    from textrec import config

    return int(settings.batch_size or config.get_profile().embedding_batch_size)


def encoder_name(settings: EmbeddingSettings) -> str:
    from textrec.text.encoder import resolve_encoder

    return resolve_encoder(settings.encoder).name


def max_length(settings: EmbeddingSettings) -> int:
    """Tokens per text: the settings', else the profile's."""
    from textrec import config

    return int(settings.max_length or config.get_profile().max_seq_length)


def length_bucket(embedder, text: str) -> int:
    """The padded token length the compiled encoder runs ``text`` at (0 for a blank text)."""
    from textrec.text.compiled import length_buckets

    if not isinstance(text, str) or not text.strip():
        return 0
    ids, _ = embedder._tokenize([text], embedder.max_length)
    return next(n for n in length_buckets(embedder.max_length) if n >= len(ids[0]))


def embed_rows(embedder, reviews: list[dict]) -> tuple[list[dict], np.ndarray]:
    """A batch of reviews -> (their output rows, without the vector; their vectors
    [n, dim], zeros for blank texts: :func:`textrec.interests.embed_texts`)."""
    from textrec.interests.vectors import embed_texts

    texts = [review[schema.TEXT] for review in reviews]
    vectors = embed_texts(embedder, texts)
    rows = []
    for review, text in zip(reviews, has_text(texts)):
        row = {column: review[column] for column in vector_files.REVIEW_COLUMNS
               if column != vector_files.HAS_TEXT}
        row[vector_files.HAS_TEXT] = bool(text)
        rows.append(row)
    return rows, vectors
