"""WordPiece tokenisation inside the TensorFlow graph, matching the Hugging Face tokenizer.

A SavedModel that takes plain text must tokenise in the graph: a client (or TF Serving) sends
strings, not token ids. tensorflow-text's ``FastBertTokenizer`` does BERT's normalisation
(lower case, accents stripped, punctuation split) and WordPiece with the encoder's own
vocabulary, so it gives the Hugging Face fast tokenizer's ids; :class:`GraphTokenizer` adds
what the Hugging Face tokenizer adds around them: truncation to ``max_length`` tokens,
``[CLS]`` first and ``[SEP]`` last, and padding with an attention mask.

The check that the two agree on real text is :func:`compare_with_hf`; the export runs it on
the training texts it is built from.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _import_tensorflow_text():
    try:
        import tensorflow_text
    except ImportError as error:  # pragma: no cover - a dependency of textrec
        raise ImportError("the in-graph tokenizer needs tensorflow-text: "
                          "pip install 'tensorflow-text==<your TensorFlow minor>.*'") from error
    return tensorflow_text


def wordpiece_vocabulary(hf_tokenizer) -> list[str]:
    """The tokenizer's vocabulary in id order (row i is the token of id i)."""
    vocabulary = hf_tokenizer.get_vocab()
    tokens = [None] * len(vocabulary)
    for token, token_id in vocabulary.items():
        if token_id >= len(tokens) or tokens[token_id] is not None:
            raise ValueError(f"the vocabulary's ids are not 0..{len(tokens) - 1}: id {token_id}")
        tokens[token_id] = token
    return tokens


def lower_cases(hf_tokenizer) -> bool:
    """Whether the tokenizer lower-cases (uncased BERT models such as MiniLM do)."""
    normalizer = getattr(getattr(hf_tokenizer, "backend_tokenizer", None), "normalizer", None)
    if normalizer is not None and hasattr(normalizer, "lowercase"):
        return bool(normalizer.lowercase)
    return bool(getattr(hf_tokenizer, "do_lower_case", True))


class GraphTokenizer(tf.Module):
    """Strings [batch size] -> (token ids, attention mask), both int32 [batch size, length].

    ``length`` is the longest text's token count in the batch (at most ``max_length``,
    special tokens included): a batch is padded only as far as it needs.

    Args:
      vocabulary: WordPiece tokens in id order (see :func:`wordpiece_vocabulary`).
      max_length: tokens per text including ``[CLS]`` and ``[SEP]``; longer texts are cut.
      lower_case: lower-case and strip accents first (uncased models).
    """

    def __init__(self, vocabulary, max_length: int, lower_case: bool = True,
                 name: str | None = None):
        super().__init__(name=name)
        text = _import_tensorflow_text()
        vocabulary = list(vocabulary)
        for special in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"):
            if special not in vocabulary:
                raise ValueError(f"the vocabulary has no {special} token; a BERT WordPiece "
                                 "vocabulary is needed")
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
        self.max_length = int(max_length)
        self.cls_id = vocabulary.index("[CLS]")
        self.sep_id = vocabulary.index("[SEP]")
        self.pad_id = vocabulary.index("[PAD]")
        self.tokenizer = text.FastBertTokenizer(
            vocab=vocabulary, token_out_type=tf.int32, lower_case_nfd_strip_accents=lower_case)

    def __call__(self, texts):
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        pieces = self.tokenizer.tokenize(texts)                     # ragged [batch, tokens]
        return frame_pieces(pieces, self.max_length, self.cls_id, self.sep_id, self.pad_id)


def frame_pieces(pieces, max_length: int, cls_id: int, sep_id: int, pad_id: int):
    """WordPiece ids of each text (ragged [batch, tokens]) -> (ids, mask), int32 [batch, length]:
    each row cut to ``max_length - 2`` pieces, ``cls_id`` put first and ``sep_id`` last, padded
    with ``pad_id`` (mask 0) to the longest row."""
    pieces = tf.cast(pieces, tf.int32)[:, : max_length - 2]
    batch = pieces.nrows(out_type=tf.int32)
    ids = tf.concat([tf.fill([batch, 1], cls_id), pieces, tf.fill([batch, 1], sep_id)], axis=1)
    return ids.to_tensor(default_value=pad_id), tf.ones_like(ids).to_tensor(default_value=0)


def compare_with_hf(graph_tokenizer: GraphTokenizer, hf_tokenizer, texts) -> int:
    """How many of ``texts`` get different ids from the two tokenizers (0 when they agree)."""
    texts = list(texts)
    if not texts:
        return 0
    ids, mask = graph_tokenizer(tf.constant(texts))
    ids, lengths = ids.numpy(), mask.numpy().sum(axis=1)
    expected = hf_tokenizer(texts, truncation=True, max_length=graph_tokenizer.max_length)
    return int(sum(not np.array_equal(ids[row, : lengths[row]], np.asarray(want))
                   for row, want in enumerate(expected["input_ids"])))
