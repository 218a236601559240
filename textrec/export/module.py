"""The serving module: everything a trained recommender needs at request time, in one graph.

:class:`RecommenderModule` holds

* the in-graph tokenizer (``textrec.export.tokenizer``) and the text encoder, so requests carry
  plain text;
* the query tower's Dense layers, with the user id embeddings copied into a table keyed by
  *pseudonymised* user ids (the tower's own lookup, which holds the raw ids, is not part of the
  export);
* each known user's interest vector (what ``recommend_user`` reads) and the unnormalised sum of
  their train review vectors (what ``recommend_text`` adds new texts to);
* the catalogue: item ids and their candidate-tower embeddings, precomputed;
* each known user's seen items, never recommended to them.

Its three ``tf.function`` s become the SavedModel's signatures:

* ``recommend_user(user_id [B] string, k [B] int32)``;
* ``recommend_text(text [B, T] string, user_id [B] string, k [B] int32)``: up to T texts per
  row (``""`` pads); a known ``user_id`` adds them to that user's history, ``""`` or an unknown
  id serves the texts alone. A new review changes the recommendations at once;
* ``embed_text(text [B] string)`` -> ``vectors`` [B, text dim], unit rows (zeros for a text
  with no tokens);
* ``explain(user_id [B] string, item_id [B] string, n [B] int32)`` -> ``history_item_ids``
  string [B, N] and ``contributions`` float32 [B, N] (``N = max(n)``): the user's seen items
  whose candidate embeddings are closest (dot product) to the item's, best first, the evidence
  "because you have ..."; ``score`` float32 [B], the model's score of the item for the user
  (``-inf`` for an unknown item); ``known_user`` bool [B]. No review text is in the export, so
  the text evidence of lesson 09 (quoted reviews) stays with the offline explainer.

Besides the signatures, ``warm_up()`` (a plain function of the SavedModel, not a signature a
client can call) compiles the XLA encoder on every bucket shape: a server calls it when it
loads a version (``textrec.export.warm_up``), so that no user's request waits for XLA.

With ``ann`` (an approximate nearest-neighbour index, ``ExportSettings(ann=...)``), both
``recommend_*`` find their items through it, inside the graph: the index's k-means centroids and
inverted lists (built by faiss, ``textrec.models.ann``) are variables of the module; a query
scores the centroids, opens the ``n_probe`` best lists and scores only their items, as faiss's
``IndexIVFFlat`` does. Seen items are dropped from the candidates; a row whose probed lists hold
fewer unseen items than it asked for is answered by the exact top-k instead, so the guarantees
below hold either way. TF Serving serves it as it serves the rest: no other library at serving
time.

Both ``recommend_*`` return ``item_ids`` string [B, K] and ``scores`` float32 [B, K] with
``K = max(k)``, best first, and ``known_user`` bool [B] (False: the row was served without an
id embedding or history). Positions past a row's own k, and rows with fewer than k unseen
items, hold ``""`` and ``-inf``. A k outside ``[1, max_k]`` or inputs of different batch sizes
raise ``InvalidArgumentError`` (HTTP 400 from a server).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from textrec.text.compiled import Buckets, CompiledEncoder, sentence_vectors
from textrec.text.pooling import l2_normalize

NO_ITEM = ""


def _constant_variable(value, name: str, dtype=None) -> tf.Variable:
    return tf.Variable(tf.constant(value, dtype=dtype), trainable=False, name=name)


class RecommenderModule(tf.Module):
    """Serving graph of a two-tower recommender with a text encoder (see the module docstring).

    Args:
      tokenizer: a ``GraphTokenizer`` for the encoder's vocabulary.
      encoder: the TF text encoder (a transformers ``TFBertModel``-like model whose output has
        ``last_hidden_state`` [batch, length, dim]).
      query_tower: the trained ``textrec.models.Tower`` on the user side; only its Dense layers
        are kept (``combine``), never its id lookup.
      user_keys: pseudonymised user ids [n users].
      user_id_vectors: float [n users + 1, embedding dim]: row 0 the tower's out-of-vocabulary
        embedding, row r + 1 user r's (None when the tower uses no ids).
      user_vectors: float [n users, text dim], the interest vectors the model was trained with.
      user_sums: float [n users, text dim], the sum of each user's train review vectors.
      seen: a list of n users int arrays, the catalogue rows each user has seen.
      item_ids: [n items] strings; item_embeddings: float [n items, embedding dim].
      max_k: the largest k a request may ask for.
      uses_token_types: pass ``token_type_ids`` (zeros) to the encoder.
      buckets: run the encoder compiled with XLA on these padded shapes
        (``textrec.text.compiled``; :meth:`warm_up` compiles them all); None: TensorFlow's
        graph, padded to each call's longest text.
      ann: an approximate index over the item embeddings, searched in the graph (see the
        module docstring): ``centroids`` float [n lists, embedding dim], ``list_items`` int
        [n items] and ``list_splits`` int [n lists + 1] (``textrec.models.ann.AnnIndex.
        ivf_arrays``) and ``n_probe``; None: every item is scored (exact).
    """

    def __init__(self, *, tokenizer, encoder, query_tower, user_keys, user_id_vectors,
                 user_vectors, user_sums, seen, item_ids, item_embeddings, max_k: int,
                 uses_token_types: bool = True, buckets: Buckets | None = None,
                 ann: dict | None = None):
        super().__init__(name="textrec_recommender")
        n_users, n_items = len(user_keys), len(item_ids)
        if n_items == 0:
            raise ValueError("the catalogue is empty: no items to recommend")
        if not 1 <= max_k <= n_items:
            raise ValueError(f"max_k must be between 1 and the {n_items} items, got {max_k}")
        for label, matrix in [("user_vectors", user_vectors), ("user_sums", user_sums)]:
            if np.shape(matrix)[0] != n_users:
                raise ValueError(f"{label} has {np.shape(matrix)[0]} rows for {n_users} users")
        if len(seen) != n_users:
            raise ValueError(f"seen has {len(seen)} rows for {n_users} users")
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.uses_token_types = bool(uses_token_types)
        self.compiled_encoder = None
        if buckets is not None:
            if buckets.lengths[-1] < tokenizer.max_length:
                raise ValueError(f"the longest bucket ({buckets.lengths[-1]} tokens) is shorter "
                                 f"than the tokenizer's max_length ({tokenizer.max_length})")
            self.compiled_encoder = CompiledEncoder(encoder, buckets, tokenizer.pad_id,
                                                    uses_token_types)
        # The query tower's layers are tracked (their weights are saved); the tower itself is
        # not, so its raw-id lookup never reaches the export.
        self.query_layers = [layer for layer in (query_tower.text_projection,
                                                 *query_tower.hidden_layers,
                                                 query_tower.output_layer) if layer is not None]
        self._combine = query_tower.combine
        self.uses_ids = bool(query_tower.use_ids)
        self.max_k = int(max_k)
        self.text_dim = int(np.shape(user_vectors)[1])
        # Row 0 of every per-user table is "unknown user": no id embedding row of its own, no
        # history, nothing seen.
        self.user_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([str(key) for key in user_keys], tf.string),
                tf.range(1, n_users + 1, dtype=tf.int64)),
            default_value=0)
        zeros = np.zeros((1, self.text_dim), np.float32)
        if self.uses_ids:
            self.user_id_vectors = _constant_variable(
                np.asarray(user_id_vectors, np.float32), "user_id_vectors")
        self.user_vectors = _constant_variable(
            np.concatenate([zeros, np.asarray(user_vectors, np.float32)]), "user_vectors")
        self.user_sums = _constant_variable(
            np.concatenate([zeros, np.asarray(user_sums, np.float32)]), "user_sums")
        lengths = [0, 0] + [len(rows) for rows in seen]   # splits of [unknown user, users...]
        self.seen_splits = _constant_variable(np.cumsum(lengths), "seen_row_splits", tf.int64)
        flat = np.concatenate([np.asarray(rows, np.int64) for rows in seen]) if seen else []
        self.seen_items = _constant_variable(np.asarray(flat, np.int64), "seen_items", tf.int64)
        self.item_ids = _constant_variable([str(item) for item in item_ids], "item_ids", tf.string)
        self.item_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([str(item) for item in item_ids], tf.string),
                tf.range(n_items, dtype=tf.int64)),
            default_value=-1)
        self.item_embeddings = _constant_variable(
            np.asarray(item_embeddings, np.float32), "item_embeddings")
        self.n_items = n_items
        self.ann_probe = 0
        if ann is not None:
            self._set_ann(ann, n_items)

    def _set_ann(self, ann: dict, n_items: int) -> None:
        centroids = np.asarray(ann["centroids"], np.float32)
        list_items = np.asarray(ann["list_items"], np.int64)
        list_splits = np.asarray(ann["list_splits"], np.int64)
        n_lists = len(centroids)
        if (len(list_splits) != n_lists + 1 or list_splits[0] != 0
                or list_splits[-1] != len(list_items) or np.any(np.diff(list_splits) < 0)):
            raise ValueError("ann: list_splits must run from 0 to len(list_items), one more "
                             "than the centroids")
        if sorted(list_items.tolist()) != list(range(n_items)):
            raise ValueError(f"ann: the lists must hold every item row 0..{n_items - 1} once")
        if not 1 <= int(ann["n_probe"]) <= n_lists:
            raise ValueError(f"ann: n_probe must be between 1 and the {n_lists} lists")
        self.ann_probe = int(ann["n_probe"])
        self.ann_centroids = _constant_variable(centroids, "ann_centroids")
        self.ann_items = _constant_variable(list_items, "ann_list_items", tf.int64)
        self.ann_splits = _constant_variable(list_splits, "ann_list_splits", tf.int64)

    # -- pieces -------------------------------------------------------------------------------

    def _encode(self, ids, mask):
        """Token ids and mask [n, length] -> unit mean-pooled vectors [n, text dim]."""
        if self.compiled_encoder is not None:
            return self.compiled_encoder(ids, mask)
        return sentence_vectors(self.encoder, ids, mask, self.uses_token_types)

    def _embed_nonblank(self, texts):
        """[n] texts -> [n, text dim]; the encoder runs only on texts that have a token (more
        than [CLS] and [SEP]), the others get zeros."""
        ids, mask = self.tokenizer(texts)
        positions = tf.where(tf.reduce_sum(mask, axis=1) > 2)[:, 0]
        vectors = self._encode(tf.gather(ids, positions), tf.gather(mask, positions))
        return tf.scatter_nd(positions[:, None], vectors,
                             tf.stack([tf.size(texts, out_type=tf.int64),
                                       tf.constant(self.text_dim, tf.int64)]))

    def _user_rows(self, user_id):
        return self.user_table.lookup(tf.reshape(user_id, [-1]))

    def _queries(self, rows, interest_vectors):
        id_vectors = tf.gather(self.user_id_vectors, rows) if self.uses_ids else None
        return self._combine(id_vectors, interest_vectors)

    def _check_k(self, k, batch_size):
        k = tf.reshape(tf.cast(k, tf.int32), [-1])
        tf.debugging.assert_equal(
            tf.size(k), tf.cast(batch_size, tf.int32),
            message="k must have one value per row (the same batch size as the other inputs)")
        tf.debugging.assert_greater_equal(k, 1, message="k must be at least 1")
        tf.debugging.assert_less_equal(k, self.max_k,
                                       message=f"k must be at most max_k={self.max_k}")
        return k

    def _seen_of(self, rows):
        return tf.gather(tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits), rows)

    def _exact_top(self, queries, rows, width):
        """Every item scored, the row's seen items masked: (scores, item rows) [B, width]."""
        scores = tf.matmul(queries, self.item_embeddings, transpose_b=True)   # [B, n items]
        seen = self._seen_of(rows)
        positions = tf.stack([seen.value_rowids(), seen.flat_values], axis=1)
        is_seen = tf.scatter_nd(positions, tf.ones_like(seen.flat_values, tf.bool),
                                tf.shape(scores, out_type=tf.int64))
        scores = tf.where(is_seen, tf.constant(-np.inf, tf.float32), scores)
        return tf.math.top_k(scores, k=width)

    def _ann_top(self, queries, rows, k, width):
        """The items of the ``ann_probe`` lists whose centroids score best, seen items dropped:
        (scores, item rows) [B, width]; rows left with fewer unseen candidates than they asked
        for get the exact answer."""
        probes = tf.math.top_k(tf.matmul(queries, self.ann_centroids, transpose_b=True),
                               k=self.ann_probe).indices                          # [B, P]
        lists = tf.RaggedTensor.from_row_splits(self.ann_items, self.ann_splits)
        candidates = tf.gather(lists, probes).merge_dims(1, 2).to_tensor(default_value=-1)
        vectors = tf.gather(self.item_embeddings, tf.maximum(candidates, 0))  # [B, C, dim]
        scores = tf.einsum("bd,bcd->bc", queries, vectors)
        seen = self._seen_of(rows)
        # Each row's seen items, sorted, then a sentinel no item row equals.
        sorted_seen = tf.concat([seen.to_tensor(default_value=self.n_items),
                                 tf.fill([tf.shape(rows)[0], 1],
                                         tf.constant(self.n_items, tf.int64))], axis=1)
        at = tf.searchsorted(sorted_seen, candidates)
        is_seen = tf.equal(tf.gather(sorted_seen, at, batch_dims=1), candidates)
        scores = tf.where((candidates < 0) | is_seen, tf.constant(-np.inf, tf.float32), scores)
        short_by = tf.maximum(width - tf.shape(scores)[1], 0)
        scores = tf.pad(scores, [[0, 0], [0, short_by]], constant_values=-np.inf)
        candidates = tf.pad(candidates, [[0, 0], [0, short_by]], constant_values=-1)
        top_scores, at_top = tf.math.top_k(scores, k=width)
        top_rows = tf.cast(tf.gather(candidates, at_top, batch_dims=1), tf.int32)
        wanted = tf.minimum(k, tf.cast(self.n_items - seen.row_lengths(), tf.int32))
        found = tf.reduce_sum(tf.cast(tf.math.is_finite(top_scores), tf.int32), axis=1)
        short = found < wanted

        def with_exact_rows():
            exact_scores, exact_rows = self._exact_top(queries, rows, width)
            return (tf.where(short[:, None], exact_scores, top_scores),
                    tf.where(short[:, None], exact_rows, top_rows))

        return tf.cond(tf.reduce_any(short), with_exact_rows, lambda: (top_scores, top_rows))

    def _top_k(self, queries, rows, k):
        """Top max(k) unseen items per row, rows past their own k blanked."""
        width = tf.maximum(tf.reduce_max(tf.concat([k, [0]], axis=0)), 0)
        if self.ann_probe:
            top_scores, top_rows = self._ann_top(queries, rows, k, width)
        else:
            top_scores, top_rows = self._exact_top(queries, rows, width)
        keep = (tf.range(width)[None, :] < k[:, None]) & tf.math.is_finite(top_scores)
        return {
            "item_ids": tf.where(keep, tf.gather(self.item_ids, top_rows), NO_ITEM),
            "scores": tf.where(keep, top_scores, tf.constant(-np.inf, tf.float32)),
            "known_user": rows > 0,
        }

    # -- signatures ---------------------------------------------------------------------------

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.int32, name="k")])
    def recommend_user(self, user_id, k):
        """Top-k unseen items of known users (pseudonymised ids) from their trained profile."""
        rows = self._user_rows(user_id)
        k = self._check_k(k, tf.size(rows))
        queries = self._queries(rows, tf.gather(self.user_vectors, rows))
        return self._top_k(queries, rows, k)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="text"),
                                  tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.int32, name="k")])
    def recommend_text(self, text, user_id, k):
        """Top-k items for texts (a query, a new review, a user's recent reviews), added to the
        user's train history when ``user_id`` is known."""
        rows = self._user_rows(user_id)
        shape = tf.shape(text)
        tf.debugging.assert_equal(shape[0], tf.size(rows, out_type=tf.int32),
                                  message="text and user_id must have the same batch size")
        k = self._check_k(k, shape[0])
        vectors = self._embed_nonblank(tf.reshape(text, [-1]))
        row_of_text = tf.repeat(tf.range(shape[0]), shape[1])
        new = tf.math.unsorted_segment_sum(vectors, row_of_text, shape[0])
        interest = l2_normalize(tf.gather(self.user_sums, rows) + new)
        return self._top_k(self._queries(rows, interest), rows, k)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def embed_text(self, text):
        """Interest vectors of texts: unit rows [B, text dim], zeros for texts with no token."""
        return {"vectors": self._embed_nonblank(tf.reshape(text, [-1]))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.string, name="item_id"),
                                  tf.TensorSpec([None], tf.int32, name="n")])
    def explain(self, user_id, item_id, n):
        """The seen items that tie each user to an item, and the model's score of the item."""
        rows = self._user_rows(user_id)
        items = self.item_table.lookup(tf.reshape(item_id, [-1]))
        tf.debugging.assert_equal(tf.size(items), tf.size(rows),
                                  message="user_id and item_id must have the same batch size")
        n = self._check_k(n, tf.size(rows))
        known_item = items >= 0
        target = tf.gather(self.item_embeddings, tf.maximum(items, 0))        # [B, dim]
        queries = self._queries(rows, tf.gather(self.user_vectors, rows))
        score = tf.where(known_item, tf.reduce_sum(queries * target, axis=1),
                         tf.constant(-np.inf, tf.float32))
        seen = tf.gather(tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits),
                         rows)
        similarity = tf.reduce_sum(tf.gather(self.item_embeddings, seen.flat_values)
                                   * tf.gather(target, seen.value_rowids()), axis=1)
        similarity = tf.where(tf.gather(known_item, seen.value_rowids()), similarity,
                              tf.constant(-np.inf, tf.float32))
        width = tf.maximum(tf.reduce_max(tf.concat([n, [0]], axis=0)), 0)
        padded = seen.with_flat_values(similarity).to_tensor(default_value=-np.inf)
        padded = tf.pad(padded, [[0, 0], [0, width]], constant_values=-np.inf)
        top_values, top_columns = tf.math.top_k(padded, k=width)
        seen_rows = tf.pad(seen.to_tensor(default_value=0), [[0, 0], [0, width]])
        keep = (tf.range(width)[None, :] < n[:, None]) & tf.math.is_finite(top_values)
        history = tf.gather(self.item_ids, tf.gather(seen_rows, top_columns, batch_dims=1))
        return {"history_item_ids": tf.where(keep, history, NO_ITEM),
                "contributions": tf.where(keep, top_values, tf.constant(-np.inf, tf.float32)),
                "score": score, "known_user": rows > 0}

    @tf.function(input_signature=[])
    def warm_up(self):
        """Run the compiled encoder once on every bucket shape, so that XLA compiles them all
        now (a server calls this when it loads a version) and not on a user's request. Returns
        ``shapes`` int32 (how many; 0 when the encoder is not compiled) and ``checksum``, the
        sum of the vectors (it keeps the calls in the graph)."""
        if self.compiled_encoder is None:
            return {"shapes": tf.constant(0, tf.int32), "checksum": tf.constant(0.0, tf.float32)}
        return {"shapes": tf.constant(len(self.compiled_encoder.buckets.shapes), tf.int32),
                "checksum": self.compiled_encoder.warm_up()}

    def signatures(self) -> dict:
        return {"recommend_user": self.recommend_user, "recommend_text": self.recommend_text,
                "embed_text": self.embed_text, "explain": self.explain,
                "serving_default": self.recommend_text}
