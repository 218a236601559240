"""TF Serving's warm-up records in every export (textrec.export.warmup_requests).

The file must be what TF Serving reads at load (a TFRecord file of ``PredictionLog`` protos of
``tensorflow-serving-api``), name the export's own signatures with inputs those signatures
take, and cover every bucket shape of the compiled encoder, so that a TF Serving deployment
compiles them all before its first request.
"""

import numpy as np
import pytest
import tensorflow as tf

from textrec import export
from textrec.export import warmup_requests
from textrec.export.server.model import _signature_defs
from textrec.text.compiled import Buckets

pytestmark = pytest.mark.slow  # the shared trained-export fixture trains and exports a model

SIGNATURES = {"recommend_user", "recommend_text", "embed_text", "explain", "serving_default"}


@pytest.fixture(scope="module")
def logs(trained_export):
    from tensorflow_serving.apis import prediction_log_pb2

    file = trained_export.path / "assets.extra" / "tf_serving_warmup_requests"
    assert file.is_file()
    records = list(tf.data.TFRecordDataset(str(file)).as_numpy_iterator())
    return [prediction_log_pb2.PredictionLog.FromString(record) for record in records]


def test_the_records_parse_and_name_the_export_signatures(trained_export, logs):
    assert logs and all(log.WhichOneof("log_type") == "predict_log" for log in logs)
    requests = [log.predict_log.request for log in logs]
    assert {request.model_spec.name for request in requests} == {"textrec"}
    named = [request.model_spec.signature_name for request in requests]
    exported = set(_signature_defs(trained_export.path)) - {"__saved_model_init_op"}
    assert exported == SIGNATURES and set(named) == SIGNATURES
    card = export.read_card(trained_export.path)["model"]
    lengths, sizes = card["compiled_encoder"]["lengths"], card["compiled_encoder"]["batch_sizes"]
    # One record per signature (serving_default too), then one per shape: 4 x 5 = 20 here.
    assert len(requests) == 4 + len(lengths) * len(sizes) == 24
    assert card["warmup_requests"] == {"file": "assets.extra/tf_serving_warmup_requests",
                                       "requests": 24}


def test_every_record_is_a_valid_request_of_its_signature(trained_export, logs):
    defs = _signature_defs(trained_export.path)
    # A copy of its own, served through TensorFlow's graph encoder: no shape compiles here.
    loaded = export.load_export(trained_export.path, shared=False)
    loaded.reset_compiled()
    for log in logs:
        request = log.predict_log.request
        signature = defs[request.model_spec.signature_name]
        assert set(request.inputs) == set(signature.inputs)
        arrays = {}
        for name, proto in request.inputs.items():
            spec = signature.inputs[name]
            assert proto.dtype == spec.dtype, name
            assert len(proto.tensor_shape.dim) == len(spec.tensor_shape.dim), name
            arrays[name] = tf.make_ndarray(proto)
        assert len({len(array) for array in arrays.values()}) == 1   # one batch size
        outputs = loaded.signatures[request.model_spec.signature_name](
            **{name: tf.constant(array) for name, array in arrays.items()})
        assert all(np.all(np.isfinite(v)) for v in (o.numpy() for o in outputs.values())
                   if v.dtype.kind == "f" and v.ndim == 1)
    assert not loaded.encoder_shapes()["ready"].numpy().any()


def test_the_recommend_text_records_cover_every_bucket_shape_once(trained_export, logs):
    card = export.read_card(trained_export.path)["model"]["compiled_encoder"]
    buckets = Buckets(tuple(card["lengths"]), tuple(card["batch_sizes"]))
    tokenizer = trained_export.embedder.tokenizer          # the encoder's own tokenizer
    covered = []
    for log in logs[4:]:
        request = log.predict_log.request
        assert request.model_spec.signature_name == "recommend_text"
        texts = tf.make_ndarray(request.inputs["text"])
        assert texts.shape[1] == 1 and len(set(texts[:, 0])) == 1
        tokens = len(tokenizer(texts[0, 0].decode(), truncation=True,
                               max_length=trained_export.embedder.max_length)["input_ids"])
        assert tokens == buckets.padded(1, tokens)[1]     # exactly a bucket's length
        covered.append(buckets.padded(len(texts), tokens))
    assert covered == buckets.shapes


def test_reading_the_records_back(trained_export):
    records = warmup_requests.read_warmup_requests(trained_export.path)
    assert [signature for _, signature, _ in records[:4]] == [
        "serving_default", "recommend_user", "embed_text", "explain"]
    _, _, explain = records[3]
    assert explain["item_id"][0].decode() in {str(i) for i in trained_export.item_text.ids}
