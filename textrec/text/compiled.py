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
same :class:`CompiledEncoder`, so they compute the same vectors the same way. In the export it
keeps TensorFlow's graph beside XLA (``graph_until_compiled``): a call whose bucket shapes are
not all compiled yet runs through the graph instead, so a server answers at once while it
compiles the shapes one by one behind the requests (:meth:`CompiledEncoder.compile_shape`),
and no user's request waits for the compiler.
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
      graph_until_compiled: (float32 only) also keep TensorFlow's graph of the encoder, and run
        a call through it whenever one of the bucket shapes the call needs is not marked
        compiled (``ready``, one flag per shape of ``buckets.shapes``, all True at first): a
        server marks them all not compiled (:meth:`reset_compiled`) and compiles them one by
        one behind the requests (:meth:`compile_shape`), so that no request waits for XLA.

    Works eagerly (the embedder) and inside a ``tf.function`` (the export's signatures, where
    the shapes are unknown until a request comes: XLA then compiles each bucket on its first
    call, which is why a server compiles them before they are used).
    """

    def __init__(self, model, buckets: Buckets, pad_id: int = 0,
                 uses_token_types: bool = True, precision: str = "float32",
                 graph_until_compiled: bool = False, name: str | None = None):
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
        self._shape_table = tf.constant(buckets.shapes, tf.int32)       # [shapes, 2]
        self.graph = None
        if graph_until_compiled and precision == "float32":
            # Two functions never inlined into their callers: TensorFlow builds a function the
            # first time it runs, so a call through the graph does not pay for building the
            # compiled path (its buckets and chunks), and neither is built once per signature.
            self.graph = tf.function(self._vectors, input_signature=[spec, spec],
                                     experimental_attributes={"_noinline": True})
            self.grouped = tf.function(self._grouped_call, input_signature=[spec, spec],
                                       experimental_attributes={"_noinline": True})
            self.ready = tf.Variable(tf.ones([len(buckets.shapes)], tf.bool), trainable=False,
                                     name="compiled_shapes_ready")

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
        included). Each row gets the vector a call of its own would give. With
        ``graph_until_compiled``, a call that needs a shape not yet marked compiled runs
        through TensorFlow's graph instead, padded to its longest text."""
        input_ids = tf.convert_to_tensor(input_ids, tf.int32)
        attention_mask = tf.convert_to_tensor(attention_mask, tf.int32)
        tf.debugging.assert_less_equal(
            tf.shape(input_ids)[1], self._length_table[-1],
            message=f"more tokens than the longest bucket ({self.buckets.lengths[-1]})")
        if self.graph is None:
            return self._grouped_call(input_ids, attention_mask)
        return tf.cond(self._all_ready(self._row_buckets(attention_mask)),
                       lambda: self.grouped(input_ids, attention_mask),
                       lambda: self.graph(input_ids, attention_mask))

    def _row_buckets(self, attention_mask):
        """Each row's length bucket (index into ``buckets.lengths``)."""
        tokens = tf.maximum(tf.reduce_sum(attention_mask, axis=1), 1)
        return tf.searchsorted(self._length_table, tokens, side="left")

    def _all_ready(self, row_bucket):
        """Whether every bucket shape a call with these rows' length buckets runs is marked
        compiled (a group of more texts than the largest batch runs in chunks of it)."""
        n_lengths = len(self.buckets.lengths)
        counts = tf.math.bincount(row_bucket, minlength=n_lengths, maxlength=n_lengths)
        batch_index = tf.searchsorted(self._batch_table,
                                      tf.minimum(counts, self._batch_table[-1]), side="left")
        ready = tf.gather(self.ready, batch_index * n_lengths + tf.range(n_lengths))
        return tf.reduce_all(ready | tf.equal(counts, 0))

    def _grouped_call(self, input_ids, attention_mask):
        """The compiled encoder on each length bucket's rows (see :meth:`__call__`).

        The rows are sorted by bucket; each bucket's rows run in calls of at most the largest
        batch (a bucket of more rows than that runs in chunks of it, each padded to it), the
        calls made one after the other by a single loop: the compiled function is called from
        one place, which keeps the graph small and quick to build."""
        row_bucket = self._row_buckets(attention_mask)
        n, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
        n_lengths = len(self.buckets.lengths)
        largest = self._batch_table[-1]
        order = tf.argsort(row_bucket, stable=True)                # rows, bucket by bucket
        counts = tf.math.bincount(row_bucket, minlength=n_lengths, maxlength=n_lengths)
        ends = tf.cumsum(counts)
        chunks = (counts + largest - 1) // largest                 # calls per bucket
        call_bucket = tf.repeat(tf.range(n_lengths), chunks)
        call_index = tf.range(tf.reduce_sum(chunks)) - tf.repeat(
            tf.cumsum(chunks, exclusive=True), chunks)
        call_start = tf.gather(ends - counts, call_bucket) + call_index * largest
        call_end = tf.minimum(call_start + largest, tf.gather(ends, call_bucket))

        def one_call(i, vectors):
            bucket = call_bucket[i]
            bucket_length = self._length_table[bucket]
            rows = order[call_start[i]:call_end[i]]
            size = tf.size(rows)
            # The rows cut (or padded) to their bucket's length (only padding is cut), then
            # padded to the batch bucket: the largest batch for a bucket run in chunks.
            texts = tf.where(counts[bucket] > largest, largest, tf.gather(
                self._batch_table, tf.searchsorted(self._batch_table, tf.reshape(size, [1]),
                                                   side="left"))[0])
            paddings = [[0, texts - size], [0, tf.maximum(bucket_length - length, 0)]]
            ids = tf.pad(tf.gather(input_ids, rows), paddings,
                         constant_values=self.pad_id)[:, :bucket_length]
            mask = tf.pad(tf.gather(attention_mask, rows), paddings)[:, :bucket_length]
            found = self.compiled(ids, mask)[:size]
            return i + 1, tf.tensor_scatter_nd_update(vectors, rows[:, None], found)

        _, vectors = tf.while_loop(lambda i, _: i < tf.size(call_bucket), one_call,
                                   (tf.constant(0), tf.zeros([n, self.dim], tf.float32)))
        return vectors

    def warm_up(self):
        """Run the compiled encoder once on every bucket shape, so that XLA compiles each now,
        and mark them all compiled; eagerly or inside a ``tf.function`` (the export's
        ``warm_up``). Returns the sum of all the vectors (a result that keeps every call in a
        traced graph)."""
        total = tf.constant(0.0, tf.float32)
        for n, length in self.buckets.shapes:
            ids = tf.fill([n, length], tf.constant(self.pad_id, tf.int32))
            total += tf.reduce_sum(self._through_buckets(ids, tf.ones([n, length], tf.int32)))
        if self.graph is not None:
            with tf.control_dependencies([total]):
                self.ready.assign(tf.ones_like(self.ready))
        return total

    def compile_shape(self, index):
        """Run the compiled encoder once on ``buckets.shapes[index]`` (XLA compiles it, unless
        it has already), then mark that shape compiled: calls that need it stop taking the
        graph. Returns the sum of the vectors."""
        index = tf.convert_to_tensor(index, tf.int32)
        shape = tf.gather(self._shape_table, index)
        ids = tf.fill(shape, tf.constant(self.pad_id, tf.int32))
        total = tf.reduce_sum(self._through_buckets(ids, tf.ones(shape, tf.int32)))
        if self.graph is not None:
            with tf.control_dependencies([total]):
                self.ready.scatter_nd_update(index[None, None], [True])
        return tf.identity(total)

    def _through_buckets(self, input_ids, attention_mask):
        """The compiled path as requests take it (with ``graph_until_compiled``, the function
        they call, which the first such call also builds)."""
        if self.graph is None:
            return self.compiled(input_ids, attention_mask)
        return self.grouped(input_ids, attention_mask)

    def reset_compiled(self):
        """Mark every shape not compiled: calls take TensorFlow's graph until
        :meth:`compile_shape` (or :meth:`warm_up`) marks the shapes they need."""
        if self.graph is not None:
            self.ready.assign(tf.zeros_like(self.ready))
