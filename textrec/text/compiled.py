"""The encoder compiled with XLA on a few padded shapes: the fast path of the embedder and the
export.

XLA fuses the encoder's element-wise work (GELU, layer norms, the softmax, the mask) into its
matrix products and drops TensorFlow's per-op overhead: on the course's 2-core CPU a batch of 64
reviews embeds about 1.2 times faster than TensorFlow's graph, and one short query about 1.5
times. But XLA compiles for one exact input shape (about a second for MiniLM), so shapes must
repeat. :class:`CompiledEncoder` pads every call up to a *bucket*: the token length to the next
of a few lengths (multiples of 16 up to 128 tokens, then coarser), the number of texts to the
next power of two (at most ``max_batch``; larger calls run in chunks of ``max_batch``). The
padding rows and tokens have attention mask 0, so they change no real text's vector, and the
rows are cut off again. Within a call, texts are grouped by their own length bucket, so a batch
of short texts with one long one is not padded to the long one's length.

The embedder (lessons 03-05, the pipeline) and the exported serving graph (lesson 08) call the
same :class:`CompiledEncoder`, so they compute the same vectors the same way. A server compiles
every bucket when it loads a version (``textrec.export.warm_up``), not on a user's request.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from textrec.text.pooling import l2_normalize, mean_pool

MAX_BATCH = 64


def length_buckets(max_length: int) -> tuple[int, ...]:
    """The padded token lengths: multiples of 16 up to 128, of 32 up to 256, then of 64; the
    last one ``max_length`` itself (e.g. 16, 32, ..., 128 for ``max_length`` 128)."""
    max_length = int(max_length)
    if max_length < 1:
        raise ValueError(f"max_length must be positive, got {max_length}")
    lengths, length = [], 0
    while True:
        length += 16 if length < 128 else 32 if length < 256 else 64
        if length >= max_length:
            return (*lengths, max_length)
        lengths.append(length)


def batch_buckets(max_batch: int = MAX_BATCH) -> tuple[int, ...]:
    """The padded numbers of texts: 1, 2, 4, ... up to ``max_batch`` (itself the last)."""
    max_batch = int(max_batch)
    if max_batch < 1:
        raise ValueError(f"max_batch must be positive, got {max_batch}")
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(size)
        size *= 2
    return (*sizes, max_batch)


@dataclasses.dataclass(frozen=True)
class Buckets:
    """The shapes a :class:`CompiledEncoder` compiles: ``lengths`` (tokens) x ``batch_sizes``
    (texts)."""

    lengths: tuple[int, ...]
    batch_sizes: tuple[int, ...]

    @classmethod
    def for_length(cls, max_length: int, max_batch: int = MAX_BATCH) -> "Buckets":
        return cls(length_buckets(max_length), batch_buckets(max_batch))

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """Every (texts, tokens) shape, smallest first."""
        return [(b, n) for b in self.batch_sizes for n in self.lengths]

    def padded(self, n_texts: int, n_tokens: int) -> tuple[int, int]:
        """The bucket shape a call of ``n_texts`` texts of ``n_tokens`` tokens is padded to
        (texts past the largest batch: a multiple of it, run in chunks)."""
        if n_tokens > self.lengths[-1]:
            raise ValueError(f"{n_tokens} tokens is more than the longest bucket "
                             f"({self.lengths[-1]})")
        length = next(n for n in self.lengths if n >= n_tokens)
        largest = self.batch_sizes[-1]
        if n_texts > largest:
            return -(-n_texts // largest) * largest, length
        return next(b for b in self.batch_sizes if b >= n_texts), length

    def as_dict(self) -> dict:
        return {"lengths": list(self.lengths), "batch_sizes": list(self.batch_sizes)}


def sentence_vectors(model, input_ids, attention_mask, uses_token_types: bool = True):
    """The encoder's unit sentence vectors: its last hidden states mean-pooled over the real
    tokens and scaled to unit length.

    ``input_ids`` and ``attention_mask``: [batch size, padded length]; returns float32
    [batch size, hidden size]. ``uses_token_types``: also pass ``token_type_ids`` (zeros), as
    BERT models expect.
    """
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if uses_token_types:
        inputs["token_type_ids"] = tf.zeros_like(input_ids)
    hidden = model(inputs, training=False).last_hidden_state
    return l2_normalize(mean_pool(tf.cast(hidden, tf.float32), attention_mask))


PRECISIONS = ("float32", "bfloat16")


def _bert_layers(model):
    """The parts of a transformers ``TFBertModel`` that :func:`bert_vectors_bfloat16` reads, or
    a ValueError naming what does not fit."""
    config = model.config
    bert = getattr(model, "bert", None)
    if (getattr(config, "model_type", None) != "bert" or bert is None
            or getattr(config, "hidden_act", None) != "gelu"
            or getattr(config, "position_embedding_type", "absolute") != "absolute"):
        raise ValueError(
            "precision='bfloat16' runs a BERT encoder's own forward pass (model_type 'bert', "
            f"GELU, absolute positions); {type(model).__name__} with model_type "
            f"{getattr(config, 'model_type', None)!r} is not one: use precision='float32'")
    return bert


def _layer_norm(layer, x):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + layer.epsilon) * layer.gamma + layer.beta


def bert_vectors_bfloat16(model, input_ids, attention_mask):
    """:func:`sentence_vectors` of a BERT encoder with its matrix products in bfloat16.

    The encoder's forward pass written out (embeddings, then per layer: self-attention, output
    projection, feed-forward, each with its residual and layer norm), reading the model's own
    weights, with one change: the inputs of every dense layer's matrix product are rounded to
    bfloat16 (8 bits of mantissa), the product accumulates in float32 and comes back as float32.
    Everything else (embeddings, softmax, GELU, layer norms, pooling) stays float32. CPUs with
    bfloat16 instructions (AVX512-BF16, AMX) run these products 2 to 5 times faster; the vectors
    move by about 1e-4 (cosine to the float32 vectors above 0.9999 on the course's reviews).
    """
    bert = _bert_layers(model)
    config = model.config
    heads = int(config.num_attention_heads)
    size = int(config.hidden_size) // heads
    embeddings = bert.embeddings
    batch, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1]

    def dense(x, layer):
        product = tf.matmul(tf.cast(x, tf.bfloat16), tf.cast(layer.kernel, tf.bfloat16))
        return tf.cast(product, tf.float32) + layer.bias

    def split_heads(x):                              # [batch * length, dim] -> [b, h, l, size]
        return tf.transpose(tf.reshape(x, [batch, length, heads, size]), [0, 2, 1, 3])

    x = (tf.gather(embeddings.weight, input_ids)
         + embeddings.position_embeddings[:length][None]
         + embeddings.token_type_embeddings[0][None, None])
    x = tf.reshape(_layer_norm(embeddings.LayerNorm, x), [-1, config.hidden_size])
    mask = tf.cast(attention_mask, tf.float32)
    bias = (1.0 - mask)[:, None, None, :] * tf.float32.min
    for layer in bert.encoder.layer:
        attention = layer.attention.self_attention
        query = split_heads(dense(x, attention.query))
        key = split_heads(dense(x, attention.key))
        value = split_heads(dense(x, attention.value))
        scores = tf.matmul(query, key, transpose_b=True) / tf.sqrt(float(size)) + bias
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), value)
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, config.hidden_size])
        output = layer.attention.dense_output
        x = _layer_norm(output.LayerNorm, dense(context, output.dense) + x)
        hidden = tf.nn.gelu(dense(x, layer.intermediate.dense), approximate=False)
        x = _layer_norm(layer.bert_output.LayerNorm, dense(hidden, layer.bert_output.dense) + x)
    hidden = tf.reshape(x, [batch, length, config.hidden_size])
    return l2_normalize(mean_pool(hidden, attention_mask))


class CompiledEncoder(tf.Module):
    """Token ids and mask [n, length] -> unit sentence vectors [n, hidden size], through the
    encoder compiled with XLA on :class:`Buckets` shapes (see the module docstring).

    Args:
      model: the TF encoder (``last_hidden_state`` [batch, length, dim]).
      buckets: the shapes to pad to.
      pad_id: the tokenizer's padding id.
      uses_token_types: pass ``token_type_ids`` (zeros) to the encoder.
      precision: ``"float32"`` (XLA, equal to TensorFlow's graph to about 1e-6) or
        ``"bfloat16"`` (:func:`bert_vectors_bfloat16` in TensorFlow's graph, BERT encoders only;
        faster on CPUs with bfloat16 instructions, vectors within about 1e-4).

    Works eagerly (the embedder) and inside a ``tf.function`` (the export's signatures, where
    the shapes are unknown until a request comes: XLA then compiles each bucket on its first
    call, which is why a server warms them all up first).
    """

    def __init__(self, model, buckets: Buckets, pad_id: int = 0,
                 uses_token_types: bool = True, precision: str = "float32",
                 name: str | None = None):
        super().__init__(name=name)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "bfloat16":
            _bert_layers(model)
        self.precision = precision
        self.model = model
        self.buckets = buckets
        self.pad_id = int(pad_id)
        self.uses_token_types = bool(uses_token_types)
        self.dim = int(model.config.hidden_size)
        self._length_table = tf.constant(buckets.lengths, tf.int32)
        self._batch_table = tf.constant(buckets.batch_sizes, tf.int32)
        spec = tf.TensorSpec([None, None], tf.int32)
        # One trace for every shape; XLA compiles (and caches) each concrete shape it meets.
        self.compiled = tf.function(self._vectors, input_signature=[spec, spec],
                                    jit_compile=precision == "float32")

    def _vectors(self, input_ids, attention_mask):
        if self.precision == "bfloat16":
            return bert_vectors_bfloat16(self.model, input_ids, attention_mask)
        return sentence_vectors(self.model, input_ids, attention_mask, self.uses_token_types)

    def __call__(self, input_ids, attention_mask):
        """Vectors of [n, length] ids and mask (right-padded; any n, and any length up to the
        longest bucket).

        The rows are grouped by their own length bucket first, and each group runs padded only
        to its bucket: in a call of 8 texts, one long text does not make the 7 short ones pay
        for its length (the encoder's work grows with the tokens it is given, padding
        included). Each row gets the vector a call of its own would give."""
        input_ids = tf.convert_to_tensor(input_ids, tf.int32)
        attention_mask = tf.convert_to_tensor(attention_mask, tf.int32)
        n, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
        tf.debugging.assert_less_equal(
            length, self._length_table[-1],
            message=f"more tokens than the longest bucket ({self.buckets.lengths[-1]})")
        tokens = tf.maximum(tf.reduce_sum(attention_mask, axis=1), 1)
        row_bucket = tf.searchsorted(self._length_table, tokens, side="left")
        vectors = tf.zeros([n, self.dim], tf.float32)
        for bucket, bucket_length in enumerate(self.buckets.lengths):
            rows = tf.where(tf.equal(row_bucket, bucket))[:, 0]

            def group(rows=rows, bucket_length=bucket_length):
                # The group's ids cut (or padded) to its bucket's length: only padding is cut.
                widen = [[0, 0], [0, tf.maximum(bucket_length - length, 0)]]
                ids = tf.pad(tf.gather(input_ids, rows), widen,
                             constant_values=self.pad_id)[:, :bucket_length]
                mask = tf.pad(tf.gather(attention_mask, rows), widen)[:, :bucket_length]
                return self._padded_call(ids, mask)

            found = tf.cond(tf.size(rows) > 0, group,
                            lambda: tf.zeros([0, self.dim], tf.float32))
            vectors = tf.tensor_scatter_nd_update(vectors, rows[:, None], found)
        return vectors

    def _padded_call(self, input_ids, attention_mask):
        """The compiled encoder on ids and mask padded to the bucket shape of the call."""
        n, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
        # The first bucket at least as large as the call, for tokens and for texts.
        padded_length = tf.gather(self._length_table, tf.searchsorted(
            self._length_table, tf.reshape(length, [1]), side="left"))[0]
        largest = self._batch_table[-1]
        chunks = tf.maximum(tf.math.floordiv(n + largest - 1, largest), 1)
        padded_n = tf.where(n > largest, chunks * largest, tf.gather(
            self._batch_table, tf.searchsorted(
                self._batch_table, tf.reshape(tf.minimum(n, largest), [1]), side="left"))[0])
        paddings = [[0, padded_n - n], [0, padded_length - length]]
        ids = tf.pad(input_ids, paddings, constant_values=self.pad_id)
        mask = tf.pad(attention_mask, paddings)

        def one_call():
            return self.compiled(ids, mask)

        def in_chunks():
            shape = [chunks, largest, padded_length]
            vectors = tf.map_fn(lambda pair: self.compiled(pair[0], pair[1]),
                                (tf.reshape(ids, shape), tf.reshape(mask, shape)),
                                fn_output_signature=tf.TensorSpec([None, self.dim], tf.float32))
            return tf.reshape(vectors, [-1, self.dim])

        vectors = tf.cond(n > largest, in_chunks, one_call)
        return vectors[:n]

    def warm_up(self):
        """Run the compiled encoder once on every bucket shape, so that XLA compiles each now;
        eagerly or inside a ``tf.function`` (the export's ``warm_up``). Returns the sum of all
        the vectors (a result that keeps every call in a traced graph)."""
        total = tf.constant(0.0, tf.float32)
        for n, length in self.buckets.shapes:
            ids = tf.fill([n, length], tf.constant(self.pad_id, tf.int32))
            total += tf.reduce_sum(self.compiled(ids, tf.ones([n, length], tf.int32)))
        return total
