"""tf.data builders."""

import numpy as np
import pytest

from tests.helpers import reviews
from textrec.data import schema, tfdata

FRAME = reviews([("u1", "i1", 5, "good", 1), ("u1", "i2", 1, "bad", 2),
                 ("u2", "i1", 3, "ok", 3), ("u3", "i3", 4, "nice", 4)])


def test_interactions_dataset_batches_all_rows():
    batches = list(tfdata.interactions_dataset(FRAME, batch_size=3))
    assert [len(b[schema.USER]) for b in batches] == [3, 1]
    assert batches[0][schema.RATING].dtype.name == "float32"
    assert batches[0][schema.USER].numpy().tolist() == [b"u1", b"u1", b"u2"]


def test_shuffle_is_seeded():
    def order(seed):
        dataset = tfdata.interactions_dataset(FRAME, batch_size=4, shuffle=True, seed=seed)
        return next(iter(dataset))[schema.ITEM].numpy().tolist()
    assert order(1) == order(1)


def test_sentiment_dataset_drops_neutral_reviews():
    texts, labels = zip(*[(review.numpy(), label.numpy())
                          for batch in tfdata.sentiment_dataset(FRAME, batch_size=8)
                          for review, label in zip(*batch)])
    assert texts == (b"good", b"bad", b"nice")
    assert labels == (1, 0, 1)


def test_vocabulary_and_errors():
    assert tfdata.vocabulary(FRAME[schema.ITEM]).tolist() == ["i1", "i2", "i3"]
    assert tfdata.vocabulary(FRAME[schema.ITEM], min_count=2).tolist() == ["i1"]
    with pytest.raises(ValueError, match="lacks columns"):
        tfdata.features_dataset(FRAME, columns=("nope",))
    with pytest.raises(ValueError, match="empty"):
        tfdata.interactions_dataset(FRAME.iloc[:0])
    dataset = tfdata.items_dataset(["a", "b", "c"], batch_size=2)
    assert np.concatenate([b.numpy() for b in dataset]).tolist() == [b"a", b"b", b"c"]
