"""TF Serving's warm-up records in every export: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays the requests it finds in that file when it loads a version, before the
version serves its first request (https://www.tensorflow.org/tfx/serving/saved_model_warmup).
The file is a TFRecord file of ``PredictionLog`` protos (``tensorflow-serving-api``), each
holding one ``PredictRequest``: a signature's name and its input tensors.

What the records cover:

* one request per signature (``serving_default`` included), so that each signature's graph is
  built and optimised before a client calls it;
* one ``recommend_text`` request per bucket shape of the compiled encoder
  (``textrec.text.compiled.Buckets.shapes``, the shapes ``warm_up`` compiles): b rows of one
  text of exactly L tokens for the shape (b texts, L tokens), so XLA compiles every shape
  before the first request and none is compiled on a user's request.

The texts are one common word repeated, never review text. ``textrec serve`` compiles the same
shapes itself (``textrec.export.server``); :func:`read_warmup_requests` reads the file back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
# A word that is one WordPiece token in BERT vocabularies; the first that is in this one is used.
WARMUP_WORDS = ("good", "the", "a", "is")


def _serving_api():
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(
            "writing TF Serving's warm-up records needs tensorflow-serving-api: "
            "pip install 'tensorflow-serving-api==<your TensorFlow minor>.*' "
            "(with --no-deps where pip would upgrade TensorFlow)") from error
    return model_pb2, predict_pb2, prediction_log_pb2


def _tokens(tokenizer, texts) -> np.ndarray:
    _, mask = tokenizer(tf.constant(texts))
    return mask.numpy().sum(axis=1)


def warmup_word(tokenizer) -> str:
    """A word the tokenizer reads as one token, so that ``n`` of them (with ``[CLS]`` and
    ``[SEP]``) are ``n + 2`` tokens."""
    for word in WARMUP_WORDS:
        if _tokens(tokenizer, [f"{word} {word}"])[0] == 4:
            return word
    raise ValueError(f"none of {WARMUP_WORDS} is a single token of this vocabulary")


def bucket_texts(tokenizer, buckets) -> list[tuple[int, int, str]]:
    """``(texts, tokens, text)`` for every bucket shape: ``text`` has exactly ``tokens`` tokens
    (the shape's length bucket); a call of ``texts`` copies of it runs that shape."""
    if buckets.lengths[0] < 3:
        raise ValueError(f"a bucket of {buckets.lengths[0]} tokens has no room for a word "
                         "beside [CLS] and [SEP]")
    word = warmup_word(tokenizer)
    text_of = {length: " ".join([word] * (length - 2)) for length in buckets.lengths}
    counted = dict(zip(buckets.lengths, _tokens(tokenizer, list(text_of.values()))))
    for length, tokens in counted.items():
        if tokens != length:
            raise ValueError(f"the warm-up text for {length} tokens has {tokens}")
    return [(texts, length, text_of[length]) for texts, length in buckets.shapes]


def signature_requests(item_id: str, k: int = 1) -> list[tuple[str, dict]]:
    """One small valid request per signature: ``(signature name, {input: array})``. ``item_id``
    is an item of the catalogue (``explain`` refuses others)."""
    text = np.array([["good strings"]], object)
    return [
        ("serving_default", {"text": text, "user_id": np.array([""], object),
                             "k": np.array([k], np.int32)}),
        ("recommend_user", {"user_id": np.array([""], object), "k": np.array([k], np.int32)}),
        ("embed_text", {"text": np.array(["good strings"], object)}),
        ("explain", {"user_id": np.array([""], object), "item_id": np.array([item_id], object),
                     "n": np.array([k], np.int32)}),
    ]


def warmup_requests(module, buckets) -> list[tuple[str, dict]]:
    """The requests of the records: one per signature, then one ``recommend_text`` per bucket
    shape (``buckets`` None: the encoder is not compiled, no shapes)."""
    first_item = module.item_ids[0].numpy().decode("utf-8")
    requests = signature_requests(first_item)
    for texts, _, text in ([] if buckets is None else bucket_texts(module.tokenizer, buckets)):
        requests.append(("recommend_text", {"text": np.full((texts, 1), text, object),
                                            "user_id": np.full(texts, "", object),
                                            "k": np.ones(texts, np.int32)}))
    return requests


def write_warmup_requests(path, requests, model_name: str) -> Path:
    """Write ``requests`` (``(signature, {input: array})``) as ``PredictionLog`` records to
    ``<path>/assets.extra/tf_serving_warmup_requests``; returns the file."""
    model_pb2, predict_pb2, prediction_log_pb2 = _serving_api()
    file = Path(path) / WARMUP_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(file)) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return file


def read_warmup_requests(path) -> list[tuple[str, str, dict]]:
    """The records of an export's version folder: ``(model name, signature, {input: array})``
    (strings as bytes), in file order."""
    _, _, prediction_log_pb2 = _serving_api()
    records = []
    for data in tf.data.TFRecordDataset(str(Path(path) / WARMUP_FILE)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(data)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"a warm-up record holds a {log.WhichOneof('log_type')}, not a "
                             "predict_log")
        request = log.predict_log.request
        records.append((request.model_spec.name, request.model_spec.signature_name,
                        {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}))
    return records
