"""Query and candidate towers: an id embedding and a text vector, combined by a small MLP.

A tower maps an entity to a vector in the space where retrieval scores are dot products:

* the **query tower** maps a user: the user id's embedding and the user's *interest vector*
  (the text they wrote, precomputed);
* the **candidate tower** maps an item: the item id's embedding and the item's text vector
  (its description and reviews, precomputed).

Both parts are optional (``use_ids``, ``use_text``), so the same class gives an id-only tower
(plain matrix factorisation), a text-only tower (content-based) or a hybrid. The two parts are
concatenated and either

* passed through Dense layers (``hidden_units``) to an output of ``embedding_dim`` (an MLP that
  mixes them), or
* with no hidden units and the text through a linear ``text_projection`` of
  ``text_projection_units``, kept side by side as the output ``[e, W t]``. A query and a
  candidate tower of this kind score ``e_u . e_i + (W_u t_u) . (W_i t_i)``: matrix
  factorisation plus a low-rank bilinear match of the user's and the item's text.

``bias`` adds one coordinate so that the dot product carries a learned per-item bias
(popularity, which every ranking model of this data needs).

Unknown ids work: the id lookup has one out-of-vocabulary bucket and the text table returns
zeros for ids it does not know. A brand-new user can still be served from text: put a vector in
the features under ``QUERY_VECTOR`` (e.g. the embedding of a free-text request) and it replaces
the table's interest vector for that row (rows of zeros fall back to the table). Items have the
same door, ``CANDIDATE_VECTOR``, for a new item known only by its description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from textrec.data import schema
from textrec.models.text_table import TextVectorTable

QUERY_VECTOR = "query_vector"
CANDIDATE_VECTOR = "candidate_vector"


class Tower(tf.keras.Model):
    """An id embedding and a text vector, concatenated, through Dense layers.

    Called with a features dict (holding ``id_key``: string ids [batch size], and optionally
    ``vector_key``: float [batch size, text dim]) or with a string tensor of ids [batch size];
    returns float embeddings [batch size, embedding_dim].

    Args:
      vocabulary: the ids the tower learns an embedding for (others share one OOV embedding).
      embedding_dim: width of the id embedding and of the output.
      text_vectors: precomputed text vectors by id (see ``textrec.models.text_table``).
      hidden_units: widths of the Dense (ReLU) layers between the inputs and the output.
      use_ids: whether to use the id embedding.
      use_text: whether to use the text vectors (when ``text_vectors`` or ``text_dim`` is given).
      text_dim: width of raw vectors passed in features when no table is given.
      text_projection_units: if set, the text vector first goes through a Dense layer of this
        width (``self.text_projection``; the joint model shares it with its sentiment head):
        ReLU when Dense layers follow, linear when it is part of the output (no
        ``hidden_units``), then the output is ``[id embedding, projected text]``, of width
        ``embedding_dim + text_projection_units`` with no output layer (without ids, zeros stand
        in for the id embedding, so the two towers keep the same width).
      normalize: L2-normalise the output, so dot products are cosine similarities.
      text_dropout: share of the text input's coordinates dropped in training (0: none), so the
        tower cannot lean on a few of the 384 text dimensions; off at serving.
      bias: one more output coordinate, so that a dot product can carry a per-item bias:
        ``"one"`` appends a constant 1 (the query side), ``"learned"`` a learned scalar per id
        (the item side, initialised at 0): ``[q, 1] . [c, b_i] = q . c + b_i``. None: no extra
        coordinate.
      id_key, vector_key: the feature names of the ids and of raw text vectors.
    """

    def __init__(self, vocabulary, embedding_dim: int = 32, text_vectors=None,
                 hidden_units: Sequence[int] = (64,), use_ids: bool = True, use_text: bool = True,
                 text_dim: int | None = None, text_projection_units: int | None = None,
                 normalize: bool = False, text_dropout: float = 0.0, bias: str | None = None,
                 id_key: str = schema.USER,
                 vector_key: str = QUERY_VECTOR, name: str | None = None):
        super().__init__(name=name)
        if embedding_dim <= 0:
            raise ValueError(f"embedding_dim must be positive, got {embedding_dim}")
        if not 0.0 <= text_dropout < 1.0:
            raise ValueError(f"text_dropout must be in [0, 1), got {text_dropout}")
        if bias not in (None, "one", "learned"):
            raise ValueError(f"bias must be None, 'one' or 'learned', got {bias!r}")
        self.bias = bias
        self.id_key, self.vector_key, self.normalize = id_key, vector_key, normalize
        self.use_ids = use_ids
        self.text_table = TextVectorTable(text_vectors, name="text_table") \
            if (use_text and text_vectors is not None) else None
        self.text_dim = self.text_table.dim if self.text_table is not None else text_dim
        if text_dim is not None and self.text_dim != text_dim:
            raise ValueError(f"text_dim={text_dim} but the text vectors have {self.text_dim}")
        self.use_text = bool(use_text and self.text_dim)
        if not (self.use_ids or self.use_text):
            raise ValueError("a tower needs ids or text: set use_ids=True, or use_text=True and "
                             "give text_vectors (or text_dim)")
        if self.use_ids or bias == "learned":
            vocabulary = [str(v) for v in vocabulary]
            if not vocabulary:
                raise ValueError("the vocabulary is empty")
            self.id_lookup = tf.keras.layers.StringLookup(
                vocabulary=vocabulary, mask_token=None, num_oov_indices=1)
        if self.use_ids:
            self.id_embedding = tf.keras.layers.Embedding(len(vocabulary) + 1, embedding_dim)
        if bias == "learned":
            self.id_bias = tf.keras.layers.Embedding(len(vocabulary) + 1, 1,
                                                     embeddings_initializer="zeros", name="id_bias")
        self.text_dropout = tf.keras.layers.Dropout(text_dropout, name="text_dropout") \
            if (self.use_text and text_dropout > 0) else None
        # Without hidden layers, an id embedding and projected text are already the output
        # (side by side); raw text vectors or hidden layers need a Dense output layer.
        side_by_side = not hidden_units and (not self.use_text or bool(text_projection_units))
        self.side_by_side, self.embedding_dim = side_by_side, int(embedding_dim)
        self.text_projection = tf.keras.layers.Dense(
            text_projection_units, activation=None if side_by_side else "relu",
            name="text_projection") if (self.use_text and text_projection_units) else None
        self.hidden_layers = [tf.keras.layers.Dense(units, activation="relu")
                              for units in hidden_units]
        self.output_layer = None if side_by_side else tf.keras.layers.Dense(embedding_dim)

    def _ids_and_vectors(self, features):
        if not isinstance(features, Mapping):
            return tf.reshape(features, [-1]), None
        vectors = features.get(self.vector_key)
        ids = features.get(self.id_key)
        if ids is None:
            if vectors is None:
                raise ValueError(f"features need {self.id_key!r} (or {self.vector_key!r}); "
                                 f"got {sorted(features)}")
            ids = tf.fill([tf.shape(vectors)[0]], "")  # no id: the OOV bucket
        return tf.reshape(ids, [-1]), vectors

    def text_vectors(self, ids, vectors=None):
        """The text input of each row: float [batch size, text dim] (before any projection)."""
        table = self.text_table(ids) if self.text_table is not None else None
        if vectors is None:
            if table is None:
                raise ValueError(f"this tower has no text table: pass {self.vector_key!r}")
            return table
        vectors = tf.cast(vectors, tf.float32)
        if table is None:
            return vectors
        given = tf.reduce_any(tf.not_equal(vectors, 0.0), axis=-1, keepdims=True)
        return tf.where(given, vectors, table)

    def call(self, features, training=False):
        ids, vectors = self._ids_and_vectors(features)
        rows = self.id_lookup(ids) if (self.use_ids or self.bias == "learned") else None
        id_vectors = self.id_embedding(rows) if self.use_ids else None
        text = self.text_vectors(ids, vectors) if self.use_text else None
        biases = self.id_bias(rows) if self.bias == "learned" else None
        return self.combine(id_vectors, text, training=training, biases=biases)

    def combine(self, id_vectors=None, text_vectors=None, training=False, biases=None):
        """The tower's output from its two inputs, already looked up: the id embeddings
        (float [batch size, embedding_dim]; None when ``use_ids`` is off) and the text vectors
        (float [batch size, text dim], before any projection; None when ``use_text`` is off);
        with ``bias="learned"``, ``biases`` float [batch size, 1].

        ``call`` looks both up by id and calls this; an export that keeps its own id tables
        (``textrec.export``) calls it directly, so the Dense layers are the same objects.
        """
        parts = []
        if self.use_ids:
            if id_vectors is None:
                raise ValueError("this tower uses ids: pass id_vectors")
            parts.append(id_vectors)
        elif self.side_by_side:
            # No id embedding: zeros in its place, so both towers keep the same width.
            parts.append(tf.zeros([tf.shape(text_vectors)[0], self.embedding_dim]))
        if self.use_text:
            if text_vectors is None:
                raise ValueError("this tower uses text: pass text_vectors")
            text = tf.cast(text_vectors, tf.float32)
            if self.text_dropout is not None:
                text = self.text_dropout(text, training=training)
            parts.append(self.text_projection(text) if self.text_projection is not None else text)
        x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)
        for layer in self.hidden_layers:
            x = layer(x)
        if self.output_layer is not None:
            x = self.output_layer(x)
        x = tf.math.l2_normalize(x, axis=-1) if self.normalize else x
        if self.bias == "one":
            x = tf.concat([x, tf.ones_like(x[:, :1])], axis=-1)
        elif self.bias == "learned":
            if biases is None:
                raise ValueError("this tower has a learned bias: pass biases")
            x = tf.concat([x, tf.cast(biases, x.dtype)], axis=-1)
        return x

    def id_vectors_of(self, ids) -> tf.Tensor:
        """The id embedding of each id (unknown ids: the OOV row): float [len(ids), dim]."""
        if not self.use_ids:
            raise ValueError("this tower has no id embedding (use_ids=False)")
        ids = tf.constant([str(i) for i in ids], dtype=tf.string)
        return self.id_embedding(self.id_lookup(tf.reshape(ids, [-1])))


class QueryTower(Tower):
    """The user side: user id embedding + the user's text interest vector.

    Features: ``schema.USER`` string ids [batch size]; optionally ``QUERY_VECTOR`` float
    [batch size, text dim] for users to serve from a free-text query. Output: float
    [batch size, embedding_dim]. See :class:`Tower` for the arguments.
    """

    def __init__(self, user_vocabulary, embedding_dim: int = 32, user_text_vectors=None,
                 hidden_units: Sequence[int] = (64,), use_ids: bool = True, use_text: bool = True,
                 **kwargs):
        kwargs.setdefault("name", "query_tower")
        super().__init__(user_vocabulary, embedding_dim, user_text_vectors, hidden_units,
                         use_ids, use_text, id_key=schema.USER, vector_key=QUERY_VECTOR, **kwargs)


class CandidateTower(Tower):
    """The item side: item id embedding + the item's text vector.

    Features: ``schema.ITEM`` string ids [batch size]; optionally ``CANDIDATE_VECTOR`` float
    [batch size, text dim] for new items known by their text. Output: float
    [batch size, embedding_dim]. See :class:`Tower` for the arguments.
    """

    def __init__(self, item_vocabulary, embedding_dim: int = 32, item_text_vectors=None,
                 hidden_units: Sequence[int] = (64,), use_ids: bool = True, use_text: bool = True,
                 **kwargs):
        kwargs.setdefault("name", "candidate_tower")
        super().__init__(item_vocabulary, embedding_dim, item_text_vectors, hidden_units,
                         use_ids, use_text, id_key=schema.ITEM, vector_key=CANDIDATE_VECTOR,
                         **kwargs)
