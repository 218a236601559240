"""Export a trained two-tower (or joint) model as a versioned SavedModel that serves from text.

    parts = ServingParts(model, user_text, item_text, train, review_vectors, embedder)
    info = export_recommender(parts, "reports/export",
                              ExportSettings(metrics={"test ndcg@10": 0.05}))
    info.path            # reports/export/textrec/1  (the layout TF Serving loads)

What goes in: the serving graph of ``textrec.export.module`` (tokenizer, encoder, the query
tower's layers, per-user tables keyed by pseudonymised ids, the catalogue's embeddings, each
user's seen items) and a model card (``model_card.md`` and ``model_card.json``) beside it.
What stays out: review text (only vectors go in) and raw user ids (only HMAC pseudonyms; a
client pseudonymises an id with the same key, ``textrec.privacy.pseudonymize``).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from textrec import ranking
from textrec._logging import quiet
from textrec.data import schema
from textrec.export import card as card_module
from textrec.export.latency import export_size_bytes
from textrec.export.module import RecommenderModule
from textrec.export.tokenizer import (GraphTokenizer, compare_with_hf, lower_cases,
                                      wordpiece_vocabulary)
from textrec.models.index import candidate_embeddings
from textrec.data.review_vectors import ReviewVectors
from textrec.models.text_table import as_id_matrix, stack_vectors
from textrec.text.compiled import Buckets

DEFAULT_NAME = "textrec"
MAX_K = 100
SERVING_MAX_BATCH = 16    # the largest bucket of texts the export's encoder compiles
TOKENIZER_CHECK_TEXTS = 2000


@dataclasses.dataclass
class ExportInfo:
    """Where an export went and what it holds."""

    path: Path                  # <folder>/<name>/<version>
    name: str
    version: int
    card: dict
    pseudonym_key_source: str   # "given", "configured" or "this installation's random key (path)"

    @property
    def size_bytes(self) -> int:
        return export_size_bytes(self.path)


@dataclasses.dataclass(frozen=True)
class ServingParts:
    """What the serving graph is built from: a trained two-tower (or joint) ``model`` (its
    ``query_model`` and ``candidate_model`` towers), the text vectors its towers were built with
    (``user_text``, ``item_text``: ``TextVectors`` or any form of ``textrec.models.text_table``;
    their ids are the users and the catalogue), the ``train`` reviews with their vectors
    (``review_vectors`` float [len(train), dim], the history ``recommend_text`` adds to) and the
    ``embedder`` that made those vectors (its tokenizer and encoder go in)."""

    model: object
    user_text: object
    item_text: object
    train: pd.DataFrame
    review_vectors: np.ndarray
    embedder: object

    def __post_init__(self):
        vectors = np.asarray(self.review_vectors, np.float32)
        if vectors.ndim != 2 or len(vectors) != len(self.train):
            raise ValueError(f"review_vectors has shape {vectors.shape}; expected one row per "
                             f"train review ({len(self.train)})")
        object.__setattr__(self, "review_vectors", vectors)


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """How an export is written.

    ``name``/``version``: the folder ``<folder>/<name>/<version>`` (version: the next free
    number when None; an existing one raises unless ``overwrite``); ``seen``: interactions
    never to recommend again to their user (default: the train reviews); ``pseudonym_key``: see
    :func:`resolve_pseudonym_key`; ``max_k``: the largest k a request may ask for (capped at
    the catalogue size); ``metrics``, ``privacy_budget`` (e.g. ``{"epsilon": 2.0, "delta":
    1e-5}`` when trained with DP-SGD) and ``data_name``: what the model card says;
    ``compiled_encoder``: the encoder compiled with XLA on bucketed shapes (batches of up to
    ``SERVING_MAX_BATCH`` texts; ``textrec.text.compiled``), faster than TensorFlow's graph once
    warmed up; False keeps the graph; ``ann``: serve through an approximate nearest-neighbour
    index (:class:`textrec.models.ann.AnnSettings`: faiss builds it, the serving graph probes
    it; ``textrec.export.module``), None: every item is scored (exact).
    """

    name: str = DEFAULT_NAME
    version: int | None = None
    seen: pd.DataFrame | None = None
    pseudonym_key: object = None
    max_k: int = MAX_K
    metrics: dict | None = None
    privacy_budget: dict | None = None
    data_name: str = ""
    overwrite: bool = False
    compiled_encoder: bool = True
    ann: object = None


def resolve_pseudonym_key(key=None) -> tuple[bytes, str]:
    """The key to pseudonymise user ids with, and where it came from: ``key``, else the
    configured one (``TEXTREC_PSEUDONYM_KEY`` or its key file), else this installation's random
    key (``textrec.privacy.installation_key``, made once under ``TEXTREC_HOME``). Never the
    public demo key: with it, anyone holding reviewer ids could re-identify the export's users."""
    from textrec import privacy

    if key is not None:
        return privacy.pseudonym_key(key), "given"
    try:
        return privacy.pseudonym_key(), "configured"
    except privacy.keys.MissingKeyError:
        secret, path = privacy.installation_key()
        return privacy.pseudonym_key(secret), f"this installation's random key ({path})"


def data_window(train: pd.DataFrame) -> dict:
    """The dates of the first and the last review a model learned from (UTC days), and how
    many: what the model card says the model knows about, so a newer version is told apart."""
    times = pd.to_datetime(pd.to_numeric(train[schema.TIMESTAMP], errors="coerce"), unit="s",
                           utc=True).dropna()
    if times.empty:
        return {"first review": None, "last review": None, "reviews": int(len(train))}
    return {"first review": times.min().strftime("%Y-%m-%d"),
            "last review": times.max().strftime("%Y-%m-%d"), "reviews": int(len(train))}


def next_version(root: Path) -> int:
    """One more than the largest numeric version folder under ``root`` (1 when none)."""
    versions = [int(p.name) for p in root.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def user_review_sums(train, review_vectors, user_ids) -> np.ndarray:
    """Sum of each user's train review vectors: float32 [len(user_ids), dim] (zeros when none).

    Normalised, a row is the user's mean interest vector (``interests.interest_vectors``);
    ``recommend_text`` adds new texts' vectors to it before normalising. ``train`` and
    ``review_vectors`` may come as one :class:`textrec.data.review_vectors.ReviewVectors`
    (``review_vectors`` None).
    """
    reviews = ReviewVectors.of(train, review_vectors)
    position = {str(user): row for row, user in enumerate(user_ids)}
    rows = np.array([position.get(str(user), -1) for user in reviews.column(schema.USER)],
                    np.int64)
    sums = np.zeros((len(user_ids), reviews.dim), np.float32)
    np.add.at(sums, rows[rows >= 0], reviews.vectors[rows >= 0])
    return sums


def seen_rows(seen: pd.DataFrame, user_ids, item_ids) -> tuple[list[np.ndarray], int]:
    """Catalogue rows each user has seen, and how many seen pairs named an unknown user or item
    (they cannot be served anyway, so they are skipped and counted)."""
    items = ranking.SeenItems.from_frame(seen, user_ids, item_ids)
    return items.lists(), ranking.unknown_pairs(seen, user_ids, item_ids)


def _id_vectors(query_tower, user_ids) -> np.ndarray | None:
    """Row 0: the tower's out-of-vocabulary id embedding; row r + 1: user r's."""
    if not query_tower.use_ids:
        return None
    oov = query_tower.id_embedding(tf.constant([0], tf.int64)).numpy()
    return np.concatenate([oov, query_tower.id_vectors_of(user_ids).numpy()]).astype(np.float32)


def _check_tokenizer(graph_tokenizer, hf_tokenizer, texts) -> dict:
    sample = [t for t in texts if isinstance(t, str)][:TOKENIZER_CHECK_TEXTS]
    mismatches = compare_with_hf(graph_tokenizer, hf_tokenizer, sample)
    if mismatches:
        raise ValueError(
            f"the in-graph WordPiece tokenizer gives other token ids than the encoder's own "
            f"tokenizer on {mismatches} of {len(sample)} training texts; only BERT-style "
            "WordPiece encoders can be exported with text inside the graph")
    return {"texts_compared": len(sample), "mismatches": mismatches}


def ann_parts(ann, model, user_ids, item_ids, item_embeddings, seen_lists, k: int = 10):
    """The index the serving graph probes (``RecommenderModule(ann=...)``) and its card facts:
    faiss's IVF over the candidate embeddings (``ann``: an ``AnnSettings``), and its recall@k
    against the exact top-k for the export's known users (seen items excluded)."""
    from textrec.models import ann as ann_module

    index = ann_module.AnnIndex(item_ids, item_embeddings, n_lists=ann.n_lists, n_probe=1,
                                seed=ann.seed)
    index.set_probe(min(ann.n_probe, index.n_lists))
    queries = np.concatenate([model.query_model(tf.constant([str(u) for u in user_ids[i:i + 1024]]))
                              .numpy() for i in range(0, len(user_ids), 1024)])
    k = min(k, len(item_ids))
    _, found = index.recommend(queries, k, exclude=seen_lists)
    position = {str(item): row for row, item in enumerate(item_ids)}
    rows = np.vectorize(lambda item: position.get(item, -1), otypes=[np.int64])(found)
    recall = ann_module.recall_at_k(rows, index.exact(queries, k, exclude=seen_lists))
    facts = {"library": ann_module.library_version(), "index": "IVF-Flat (inner product)",
             "n_lists": index.n_lists, "n_probe": index.n_probe,
             f"recall@{k} vs exact (known users)": round(recall, 4),
             "exact fallbacks (known users)": index.last_fallbacks}
    return {**index.ivf_arrays(), "n_probe": index.n_probe}, facts


def build_module(parts: ServingParts, *, seen: pd.DataFrame | None = None, pseudonym_key=None,
                 max_k: int = MAX_K, compiled_encoder: bool = True, ann=None):
    """``(module, facts)``: the :class:`RecommenderModule` of ``parts``' trained model, and facts
    for the model card (``facts["pseudonym_key"]`` says where the key came from). ``seen``,
    ``pseudonym_key``, ``max_k``, ``compiled_encoder`` and ``ann`` as in :class:`ExportSettings`.
    """
    from textrec import privacy

    model, embedder, train = parts.model, parts.embedder, parts.train
    user_ids, user_vectors = as_id_matrix(parts.user_text)
    item_ids, _ = as_id_matrix(parts.item_text)
    if user_vectors.shape[1] != embedder.dim:
        raise ValueError(f"the user vectors have {user_vectors.shape[1]} dims but the encoder "
                         f"{embedder.name!r} gives {embedder.dim}: export with the embedder "
                         "that made them")
    secret, key_source = resolve_pseudonym_key(pseudonym_key)
    seen_lists, skipped = seen_rows(train if seen is None else seen, user_ids, item_ids)
    tokenizer = GraphTokenizer(wordpiece_vocabulary(embedder.tokenizer), embedder.max_length,
                               lower_cases(embedder.tokenizer))
    tokenizer_check = _check_tokenizer(tokenizer, embedder.tokenizer,
                                       train[schema.TEXT].tolist())
    buckets = (Buckets.for_length(embedder.max_length, SERVING_MAX_BATCH) if compiled_encoder
               else None)
    item_embeddings = candidate_embeddings(model.candidate_model, item_ids)
    ann_arrays, ann_facts = (ann_parts(ann, model, user_ids, item_ids, item_embeddings,
                                       seen_lists) if ann is not None else (None, None))
    module = RecommenderModule(
        tokenizer=tokenizer, encoder=embedder.model, query_tower=model.query_model,
        user_keys=privacy.pseudonymize_ids(user_ids, secret),
        user_id_vectors=_id_vectors(model.query_model, user_ids),
        user_vectors=stack_vectors(parts.user_text, user_ids),
        user_sums=user_review_sums(train, parts.review_vectors, user_ids),
        seen=seen_lists, item_ids=item_ids,
        item_embeddings=item_embeddings,
        max_k=min(max_k, len(item_ids)),
        uses_token_types="token_type_ids" in getattr(embedder.tokenizer, "model_input_names", []),
        buckets=buckets, ann=ann_arrays)
    facts = {"users": len(user_ids), "items": len(item_ids),
             "data_window": data_window(train),
             "seen_pairs": int(sum(len(r) for r in seen_lists)),
             "seen_pairs_skipped": skipped, "tokenizer_check": tokenizer_check,
             "pseudonym_key": key_source, "encoder": embedder.name,
             "max_length": embedder.max_length, "text_dim": embedder.dim,
             "max_k": module.max_k,
             "compiled_encoder": ({"xla": True, **buckets.as_dict()} if buckets is not None
                                  else {"xla": False}),
             "retrieval": ({"exact": False, **ann_facts} if ann_facts is not None
                           else {"exact": True})}
    return module, facts


def export_recommender(parts: ServingParts, folder,
                       settings: ExportSettings | None = None) -> ExportInfo:
    """Write ``<folder>/<name>/<version>/`` (see :class:`ExportSettings`): the SavedModel of
    ``parts`` and its model card."""
    settings = settings or ExportSettings()
    name = settings.name
    root = Path(folder) / name
    version = next_version(root) if settings.version is None else int(settings.version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    path = root / str(version)
    if path.exists():
        if not settings.overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True or another version")
        shutil.rmtree(path)
    module, facts = build_module(parts, seen=settings.seen,
                                 pseudonym_key=settings.pseudonym_key, max_k=settings.max_k,
                                 compiled_encoder=settings.compiled_encoder,
                                 ann=settings.ann)
    path.parent.mkdir(parents=True, exist_ok=True)
    with quiet(logging.getLogger("absl")), quiet(tf.get_logger()):
        tf.saved_model.save(module, str(path), signatures=module.signatures())
    card = card_module.write_card(path, name=name, version=version, facts=facts,
                                  metrics=settings.metrics or {},
                                  privacy_budget=settings.privacy_budget,
                                  data_name=settings.data_name)
    return ExportInfo(path=path, name=name, version=version, card=card,
                      pseudonym_key_source=facts["pseudonym_key"])
