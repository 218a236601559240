"""Sentiment fine-tuning: class weights, batching, augmentation, metrics, save and load.

The encoder is converted and loaded once (module-scoped fixtures with their own cache folder);
conftest still gives each test its own TEXTREC_HOME. Sizes are tiny: 24 reviews, 32 tokens.
"""

import numpy as np
import pandas as pd
import pytest

from textrec import text
from textrec.data import schema
from textrec.text import augment, finetune

POSITIVE = ["Great strings, I love the warm tone.", "Excellent tuner, easy to use and accurate.",
            "Superb cable, no noise at all.", "Solid stand, holds my guitar perfectly.",
            "Really happy with this pedal, sounds fantastic.", "Beautiful finish and a rich sound.",
            "Works great, would buy again.", "Perfect picks for strumming, I recommend them."]
NEGATIVE = ["Broke after a week, terrible.", "Awful buzzing, I returned it.",
            "Cheap flimsy plastic, useless.", "Poor quality, the cable crackles constantly."]


def reviews(texts_and_ratings):
    rows = [{schema.TEXT: t, schema.RATING: float(r)} for t, r in texts_and_ratings]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def train_frame():
    # 16 positive and 8 negative reviews: each text twice, as a 5-star/4-star or 1-star/2-star.
    pairs = [(t, r) for t in POSITIVE for r in (5, 4)] + [(t, r) for t in NEGATIVE for r in (1, 2)]
    return reviews(pairs)


@pytest.fixture(scope="module")
def result(resolved, train_frame):
    return text.finetune_sentiment(train_frame, None, resolved, max_examples=24, epochs=5,
                                   max_length=32, batch_size=8, learning_rate=2e-4,
                                   progress=False)


# ---------------------------------------------------------------- labels and class weights


def test_class_weights_by_hand():
    # 8 labels, 2 negative and 6 positive: weight = n / (2 * n_class),
    # negative 8 / (2 * 2) = 2.0, positive 8 / (2 * 6) = 2/3; both classes then weigh 4 in total.
    weights = text.class_weights([1, 1, 0, 1, 1, 0, 1, 1])
    assert weights == pytest.approx({0: 2.0, 1: 2 / 3})
    with pytest.raises(ValueError, match="every class"):
        text.class_weights([1, 1, 1])


def test_neutral_and_empty_reviews_are_left_out():
    frame = reviews([("good", 5), ("ok", 3), ("", 5), ("   ", 1), ("bad", 2), (None, 4)])
    kept = text.sentiment_frame(frame)
    assert kept[schema.TEXT].tolist() == ["good", "bad"]
    assert kept[schema.SENTIMENT].tolist() == [1, 0]


def test_stratified_sample_keeps_shares(train_frame):
    sample = finetune.stratified_sample(text.sentiment_frame(train_frame), 12, seed=0)
    # 24 reviews, 2/3 positive -> 12 of them: 8 positive and 4 negative.
    assert len(sample) == 12 and sample[schema.SENTIMENT].sum() == 8


# ---------------------------------------------------------------- dynamic padding


def test_batches_are_padded_to_their_longest_text(result):
    texts = ["a b c d e f g h", "a", "a b c", "a b", "a b c d e f"]
    dataset, order = finetune.length_batches(result.tokenizer, texts, batch_size=2, max_length=32)
    lengths = [len(result.tokenizer(t)["input_ids"]) for t in texts]
    assert sorted(order.tolist()) == list(range(5))
    position = 0
    for batch in dataset:
        rows = order[position: position + len(batch["input_ids"])]
        assert batch["input_ids"].shape[1] == max(lengths[i] for i in rows)
        assert batch["attention_mask"].numpy().sum(axis=1).tolist() == [lengths[i] for i in rows]
        position += len(rows)
    assert position == 5


# ---------------------------------------------------------------- training


def test_finetuning_reduces_the_training_loss(result):
    losses = result.history["loss"]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert result.label_counts == {"negative": 8, "positive": 16}
    assert result.class_weight == pytest.approx({0: 1.5, 1: 0.75})  # 24/(2*8), 24/(2*16)


def test_finetuned_model_separates_the_training_reviews(result, train_frame):
    evaluation = text.evaluate_sentiment(result, train_frame)
    assert evaluation["n"] == 24 and evaluation["accuracy"] >= 0.75
    assert ((0 <= evaluation["probabilities"]) & (evaluation["probabilities"] <= 1)).all()


# ---------------------------------------------------------------- augmentation


def test_augmentation_is_deterministic_keeps_labels_and_changes_texts():
    texts, labels = POSITIVE + NEGATIVE, [1] * 8 + [0] * 4
    new_texts, new_labels = text.augment_texts(texts, labels, n_per_text=3, seed=7)
    again, _ = text.augment_texts(texts, labels, n_per_text=3, seed=7)
    other, _ = text.augment_texts(texts, labels, n_per_text=3, seed=8)
    assert new_texts == again and new_texts != other
    assert new_labels.tolist() == [1] * 24 + [0] * 12
    sources = np.repeat(texts, 3)
    assert all(new != old for new, old in zip(new_texts, sources))
    assert all(new.strip() for new in new_texts)


@pytest.mark.parametrize("method", ["synonym", "deletion", "swap"])
def test_each_method_never_empties_a_text(method):
    texts = ["Great", "Awful buzz", "not bad at all", "x"]
    new_texts, _ = text.augment_texts(texts, [1, 0, 1, 1], n_per_text=20, seed=0, methods=[method])
    assert all(new.strip() for new in new_texts)
    assert "not" in " ".join(new_texts[40:60])  # negations are never edited away


def test_synonyms_keep_polarity():
    new_texts, _ = text.augment_texts(["great"], [1], n_per_text=10, seed=0, methods=["synonym"])
    assert set(new_texts) <= set(augment.REVIEW_SYNONYMS["great"]) and "okay" not in new_texts


# ---------------------------------------------------------------- metrics, worked by hand


def test_evaluate_sentiment_by_hand():
    frame = reviews([("a", 5), ("b", 4), ("c", 5), ("d", 1), ("e", 2), ("f", 3), ("", 5)])
    probability = {"a": 0.9, "b": 0.6, "c": 0.2, "d": 0.1, "e": 0.7}
    # "f" (3 stars) and "" are left out. Labels 1 1 1 0 0, predictions 1 1 0 0 1:
    # accuracy 3/5. Positive: TP 2, FP 1 (e), FN 1 (c) -> precision = recall = F1 = 2/3.
    # Negative: TP 1 (d), FP 1 (c), FN 1 (e) -> F1 = 1/2. Macro-F1 = (2/3 + 1/2) / 2 = 7/12.
    metrics = text.evaluate_sentiment(lambda texts: [probability[t] for t in texts], frame)
    assert metrics["n"] == 5
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["macro_f1"] == pytest.approx(7 / 12)
    assert metrics["confusion_matrix"] == [[1, 1], [1, 2]]
    assert metrics["report"]["positive"]["f1-score"] == pytest.approx(2 / 3)
    assert "negative" in metrics["report_text"]


def test_majority_baseline_by_hand():
    train = reviews([("a", 5), ("b", 5), ("c", 1)])
    test = reviews([("a", 5), ("b", 4), ("c", 5), ("d", 2)])
    # Always "positive": accuracy 3/4. Positive F1 = 2 * 0.75 * 1 / (0.75 + 1) = 6/7; negative 0.
    metrics = text.majority_baseline(train, test)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["macro_f1"] == pytest.approx(3 / 7)


# ---------------------------------------------------------------- saving and reuse


def test_save_and_load_give_the_same_probabilities(result):
    probe = ["Great strings!", "Broke after a day.", "It is a guitar stand.", ""]
    folder = text.save_finetuned(result, metrics={"accuracy": np.float64(0.5)})
    # Kept under the fingerprint of the reviews it was tuned on.
    assert folder.parent.name == "finetuned-sentiment" and (folder / "tf_model.h5").is_file()
    assert folder.name == result.data_fingerprint and len(result.data_fingerprint) == 16
    loaded = text.load_finetuned(data=result.data_fingerprint)
    assert loaded.metadata["labels"] == ["negative", "positive"]
    assert loaded.metadata["metrics"] == {"accuracy": 0.5}
    np.testing.assert_allclose(loaded.predict_proba(probe), result.predict_proba(probe), atol=1e-5)

    embedder = loaded.embedder(max_length=32, use_cache=False)
    vectors = embedder.embed(probe[:3])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_loading_from_a_missing_folder_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="02_bert_finetuning"):
        text.load_finetuned(tmp_path / "nothing_here")
    with pytest.raises(FileNotFoundError, match="finetune_sentiment"):
        text.load_finetuned(data="0" * 16)
    with pytest.raises(ValueError, match="which fine-tuned model"):
        text.load_finetuned()


def test_epoch_log_counts_epochs_not_evaluation_rounds(capsys):
    # One epoch evaluated twice: Keras runs two "epochs" of half an epoch each; the log must
    # say 0.5/1 then 1/1, as the report's "1 epoch" does.
    log = text.finetune.EpochLog(epochs=1, evaluations_per_epoch=2)
    log.on_epoch_end(0, {"loss": 0.5})
    log.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.375})
    assert capsys.readouterr().out.splitlines() == [
        "epoch 0.5/1: loss 0.5000", "epoch 1/1: loss 0.2500, val_loss 0.3750"]


def test_a_model_tuned_on_other_data_is_not_picked_up(result):
    folder = text.save_finetuned(result)
    other = reviews([("a", 5), ("b", 1)])  # other reviews: another fingerprint
    assert text.finetune.data_fingerprint(other) != result.data_fingerprint
    with pytest.raises(FileNotFoundError, match="other data"):
        text.load_finetuned(folder, data=other)
    with pytest.raises(FileNotFoundError):
        text.load_finetuned(data=other)


def test_the_fingerprint_follows_the_reviews():
    first = reviews([("a", 5), ("b", 1)])
    assert text.finetune.data_fingerprint(first) == text.finetune.data_fingerprint(first.copy())
    changed = first.assign(**{schema.RATING: [5.0, 2.0]})
    assert text.finetune.data_fingerprint(changed) != text.finetune.data_fingerprint(first)


def test_early_stopping_watches_the_validation_macro_f1(resolved, train_frame):
    run = text.finetune_sentiment(train_frame, train_frame, resolved, max_examples=24, epochs=2,
                                  max_length=32, batch_size=8, learning_rate=2e-4,
                                  progress=False)
    scores = run.history["val_macro_f1"]
    assert run.settings["monitor"] == "val_macro_f1"
    assert 1 <= len(scores) <= 2 and all(0 <= f1 <= 1 for f1 in scores)
    # The restored weights are the best round's: scoring the validation reviews again gives
    # that round's macro-F1.
    assert text.evaluate_sentiment(run, train_frame)["macro_f1"] == pytest.approx(
        max(scores), abs=1e-6)
