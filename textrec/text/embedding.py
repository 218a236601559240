"""Sentence vectors from a pretrained encoder: tokenise, run the model, pool, normalise, cache.

Example::

    embedder = TextEmbedder()  # the offline all-MiniLM-L6-v2 by default
    vectors = embedder.embed(["Great battery.", "Broke after a week."])  # [2, 384] float32
    embedder.last_stats  # n_texts, n_cached, n_embedded, n_truncated, seconds
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
import warnings
import weakref
from pathlib import Path

import numpy as np
import tensorflow as tf

from textrec import config
from textrec.text import cache as cache_module
from textrec.text.compiled import PRECISIONS, Buckets, CompiledEncoder, sentence_vectors
from textrec.text.encoder import ResolvedEncoder, load_encoder, resolve_encoder
AUTO_PROGRESS_ABOVE = 1000  # progress=None shows a bar when more texts than this need the model
_TOKENIZE_CHUNK = 2048


@dataclasses.dataclass
class EmbeddingStats:
    """What the last :meth:`TextEmbedder.embed` call did.

    ``n_texts`` inputs; ``n_cached`` of them were read from the cache; ``n_embedded`` distinct
    texts went through the model; ``n_truncated`` inputs were longer than ``max_length``
    tokens and were cut; ``seconds`` of wall time.
    """

    n_texts: int = 0
    n_cached: int = 0
    n_embedded: int = 0
    n_truncated: int = 0
    seconds: float = 0.0

    @property
    def texts_per_second(self) -> float:
        return self.n_texts / self.seconds if self.seconds > 0 else float("inf")


class TextEmbedder:
    """Embeds texts as L2-normalised mean-pooled vectors of a pretrained encoder.

    Args:
      encoder: a folder, a Hub id, a :class:`ResolvedEncoder`, or None for
        :func:`resolve_encoder`'s default (the offline all-MiniLM-L6-v2).
      max_length: tokens per text, special tokens included (default: the profile's
        ``max_seq_length``). Longer texts are truncated: only their first ``max_length``
        tokens count. Truncated texts are counted in ``last_stats.n_truncated``.
      batch_size: texts per model call (default: the profile's ``embedding_batch_size``).
      use_cache: read and write the on-disk cache (see :mod:`textrec.text.cache`).
      cache_path: the cache file (default ``config.cache_dir()/embeddings/<name>.sqlite3``).
      compiled: run the encoder compiled with XLA on bucketed shapes (the default, faster;
        :mod:`textrec.text.compiled`), or through TensorFlow's graph (``False``). The two agree
        to about 1e-6.
      precision: ``"float32"`` (the default) or ``"bfloat16"``: the encoder's matrix products
        in bfloat16 (BERT encoders; :func:`textrec.text.compiled.bert_vectors_bfloat16`),
        faster on CPUs with bfloat16 instructions, vectors within about 1e-4 of float32's. Its
        vectors are cached apart (``<name>-bfloat16``). Default: ``TEXTREC_EMBED_PRECISION``
        if set, else float32.
    """

    def __init__(
        self, encoder=None, *, max_length=None, batch_size=None, use_cache=True, cache_path=None,
        compiled=True, precision=None,
    ):
        resolved = encoder if isinstance(encoder, ResolvedEncoder) else resolve_encoder(encoder)
        tokenizer, model = load_encoder(resolved)
        self.resolved = resolved
        self._setup(tokenizer, model, resolved.name, max_length, batch_size, use_cache, cache_path,
                    compiled, precision)

    @classmethod
    def from_model(
        cls, tokenizer, model, name: str, *, max_length=None, batch_size=None, use_cache=True,
        cache_path=None, compiled=True, precision=None,
    ) -> "TextEmbedder":
        """An embedder around an already loaded (e.g. fine-tuned) tokenizer and TF model.

        ``name`` keys the cache: give a fine-tuned model a new name.
        """
        embedder = cls.__new__(cls)
        embedder.resolved = None
        embedder._setup(tokenizer, model, name, max_length, batch_size, use_cache, cache_path,
                        compiled, precision)
        return embedder

    def _setup(self, tokenizer, model, name, max_length, batch_size, use_cache, cache_path,
               compiled, precision):
        profile = config.get_profile()
        precision = precision or os.environ.get("TEXTREC_EMBED_PRECISION") or "float32"
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r} "
                             "(TEXTREC_EMBED_PRECISION?)")
        if precision != "float32":
            if not compiled:
                raise ValueError(f"precision={precision!r} needs compiled=True")
            name = f"{name}-{precision}"      # its vectors are cached apart from float32's
        self.precision = precision
        self.tokenizer, self.model, self.name = tokenizer, model, name
        self.dim = int(model.config.hidden_size)
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 512))
        self.max_length = self._check_max_length(max_length or profile.max_seq_length)
        self.batch_size = int(batch_size or profile.embedding_batch_size)
        self.use_cache = bool(use_cache)
        self.cache_path = Path(cache_path) if cache_path else cache_module.default_cache_path(name)
        self._cache = None  # opened on first use
        self.last_stats = EmbeddingStats()
        self._uses_token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", [])
        self.pad_id = int(tokenizer.pad_token_id or 0)
        self.compiled = bool(compiled)
        if not self.compiled:
            spec = tf.TensorSpec([None, None], tf.int32)
            # One trace serves every batch: both dimensions are left unknown.
            self._encode = tf.function(
                self._encode_batch, input_signature=[spec, spec], reduce_retracing=True
            )

    def _check_max_length(self, max_length) -> int:
        max_length = int(max_length)
        if not 2 <= max_length <= self.max_positions:
            raise ValueError(
                f"max_length must be between 2 and {self.max_positions}, got {max_length}"
            )
        return max_length

    def _encode_batch(self, input_ids, attention_mask):
        """Token ids [batch size, padded length] -> unit vectors [batch size, hidden size]."""
        return sentence_vectors(self.model, input_ids, attention_mask, self._uses_token_types)

    def embed(self, texts, batch_size=None, max_length=None, progress=None) -> np.ndarray:
        """Vectors of ``texts``, shape [number of texts, hidden size], float32, in input order.

        Each vector is the mean of the encoder's last hidden states over the text's real
        tokens, scaled to unit length. Only the first ``max_length`` tokens (special tokens
        included) are read; longer texts are truncated and counted in ``last_stats``. Texts in
        the cache are not embedded again; repeated texts are embedded once. The rest are sorted
        by length and batched; each batch runs through the XLA-compiled encoder padded to the
        next bucket shape at or above its size and longest text (``compiled=True``, the
        default; :mod:`textrec.text.compiled`), or through TensorFlow's graph padded to its
        longest text (``compiled=False``). ``progress``: True/False, or None to show a bar
        above 1,000 texts.
        """
        start = time.perf_counter()
        texts = _as_text_list(texts)
        batch_size = int(batch_size or self.batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        max_length = self._check_max_length(max_length or self.max_length)
        index: dict[str, int] = {}
        positions = (index.setdefault(text, len(index)) for text in texts)
        inverse = np.fromiter(positions, np.int64, len(texts))
        unique = list(index)
        keys = [cache_module.text_key(text) for text in unique]
        vectors = np.zeros((len(unique), self.dim), np.float32)
        truncated = np.zeros(len(unique), bool)
        found = self._cache_call("get_many", keys, max_length) or {}
        from_cache = np.array([key in found for key in keys], bool)
        for row in np.flatnonzero(from_cache):
            vectors[row], truncated[row] = found[keys[row]]
        todo = np.flatnonzero(~from_cache)
        if len(todo):
            show = len(todo) > AUTO_PROGRESS_ABOVE if progress is None else bool(progress)
            new_vectors, new_truncated = self._embed_new(
                [unique[i] for i in todo], [keys[i] for i in todo], batch_size, max_length, show
            )
            vectors[todo], truncated[todo] = new_vectors, new_truncated
        self.last_stats = EmbeddingStats(
            n_texts=len(texts),
            n_cached=int(from_cache[inverse].sum()) if len(texts) else 0,
            n_embedded=len(todo),
            n_truncated=int(truncated[inverse].sum()) if len(texts) else 0,
            seconds=time.perf_counter() - start,
        )
        return vectors[inverse]

    def _embed_new(self, texts, keys, batch_size, max_length, show_progress):
        """Run the model on ``texts`` (distinct, uncached); store and return vectors and flags."""
        ids, truncated = self._tokenize(texts, max_length)
        lengths = np.array([len(row) for row in ids])
        order = np.argsort(-lengths, kind="stable")  # longest first: the slowest batches show early
        vectors = np.zeros((len(texts), self.dim), np.float32)
        bar = _progress_bar(len(texts), self.name) if show_progress else None
        encoder = self.compiled_encoder(max_length, batch_size) if self.compiled else None
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            input_ids, mask = self._padded_batch([ids[row] for row in rows], encoder)
            vectors[rows] = self._encode_padded(input_ids, mask, encoder)[: len(rows)]
            batch_keys = [keys[row] for row in rows]
            self._cache_call("put_many", batch_keys, vectors[rows], truncated[rows], max_length)
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return vectors, truncated

    def compiled_encoder(self, max_length=None, batch_size=None) -> CompiledEncoder:
        """The XLA-compiled encoder this embedder runs for texts of at most ``max_length``
        tokens in batches of ``batch_size`` (defaults: the embedder's), shared in the process
        (see :mod:`textrec.text.compiled`)."""
        buckets = Buckets.for_length(max_length or self.max_length, batch_size or self.batch_size)
        return shared_compiled_encoder(self.model, buckets, self.pad_id, self._uses_token_types,
                                       self.precision)

    def _padded_batch(self, rows, encoder):
        """Token id lists -> (ids, mask) int32, padded to the batch's longest text: with the
        compiled ``encoder``, to its bucket shape (more texts and tokens, all masked out)."""
        longest = max(len(row) for row in rows)
        if encoder is not None:
            n, width = encoder.buckets.padded(len(rows), longest)
        else:
            n, width = len(rows), min(-(-longest // 8) * 8, self.max_positions)
        input_ids = np.full((n, width), self.pad_id, np.int32)
        mask = np.zeros((n, width), np.int32)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return input_ids, mask

    def _encode_padded(self, input_ids, mask, encoder) -> np.ndarray:
        if encoder is None:
            return self._encode(tf.constant(input_ids), tf.constant(mask)).numpy()
        return encoder.compiled(tf.constant(input_ids), tf.constant(mask)).numpy()

    def _cache_call(self, method: str, *args):
        """Call the cache when it is on; on a database error warn, turn it off and go on."""
        if not self.use_cache:
            return None
        try:
            if self._cache is None:
                self._cache = cache_module.EmbeddingCache(self.cache_path, self.dim)
            return getattr(self._cache, method)(*args)
        except (sqlite3.Error, OSError) as error:
            warnings.warn(f"embedding cache {self.cache_path} unusable ({error}); not caching")
            self.use_cache = False
            return None

    def _tokenize(self, texts, max_length):
        """Token ids of each text (first ``max_length`` tokens) and whether it was truncated."""
        ids, truncated = [], []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = texts[start : start + _TOKENIZE_CHUNK]
            encoded = self.tokenizer(
                chunk, truncation=True, max_length=max_length, return_overflowing_tokens=True,
                return_attention_mask=False, return_token_type_ids=False,
            )
            # A text longer than max_length comes back as several rows; its first row is kept.
            sample = np.asarray(encoded["overflow_to_sample_mapping"])
            first_rows = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
            ids.extend(np.asarray(encoded["input_ids"][r], np.int32) for r in first_rows)
            truncated.extend(np.bincount(sample, minlength=len(chunk)) > 1)
        return ids, np.asarray(truncated, bool)


_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def shared_compiled_encoder(model, buckets: Buckets, pad_id: int, uses_token_types: bool,
                            precision: str = "float32") -> CompiledEncoder:
    """One :class:`CompiledEncoder` per model and settings in this process, so that embedders
    of the same model share what XLA has compiled."""
    per_model = _SHARED.setdefault(model, {})
    key = (buckets, int(pad_id), bool(uses_token_types), precision)
    if key not in per_model:
        per_model[key] = CompiledEncoder(model, buckets, pad_id, uses_token_types, precision)
    return per_model[key]


def _as_text_list(texts) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            "embed() takes a list of texts; wrap a single text in a list: embed([text])"
        )
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{position}] is a {type(text).__name__}, not a str; "
                "fill missing text with '' first (e.g. series.fillna(''))"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: replace them rather than crash
            texts[position] = text.encode("utf-8", errors="replace").decode("utf-8")
    return texts


def _progress_bar(total: int, name: str):
    from textrec._logging import progress_bar

    return progress_bar(total=total, desc=f"embedding with {name}", unit="text")
