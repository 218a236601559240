"""Fine-tuning the text encoder to read a review's sentiment, with Keras ``fit``.

The task: review text -> positive (4-5 stars, label 1) or negative (1-2 stars, label 0).
Three-star reviews are *neutral* and left out of training and evaluation (they are often mixed,
and either label would teach the model noise); so are empty texts.

The recipe (Devlin et al., 2019, section 5), in idiomatic TensorFlow:

* the model is ``TFAutoModelForSequenceClassification`` built from the resolved encoder's
  TensorFlow folder with ``num_labels=2``: the pretrained encoder, its [CLS] pooler, dropout and
  a new, randomly initialised ``classifier`` layer giving two logits;
* AdamW (Adam with decoupled weight decay, none on biases and LayerNorm) whose learning rate
  rises linearly for the first 10% of the steps, then decays linearly to 0
  (``transformers.create_optimizer``);
* class weights from the training label frequencies, because reviews are mostly positive (68%
  of the real Musical Instruments reviews have five stars): a model that always says
  "positive" must not look good to the loss;
* dynamic padding: texts are sorted by token length, cut into batches, each batch padded only to
  its own longest text; every epoch sees the same batches in a new order (``tf.data``);
* early stopping on the validation macro-F1 (the metric the lessons report; the class-weighted
  validation loss is the alternative), restoring the best weights; seeds fixed.

Example::

    result = finetune_sentiment(prepared.split.train, prepared.split.validation)
    result.history["val_loss"], result.predict_proba(["Great strings!"])
    save_finetuned(result)  # later: load_finetuned(data=train).predict_proba(texts), .embedder()
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from textrec import config
from textrec.data import schema
from textrec.text.augment import augment_texts
from textrec.text.convert import has_tf_weights, quiet_transformers, weights_fingerprint
from textrec.text.embedding import TextEmbedder
from textrec.text.encoder import ResolvedEncoder, resolve_encoder
from textrec.text.sentiment_data import (  # noqa: F401  (part of this module's API)
    LABELS,
    PREDICT_BATCH_SIZE,
    class_weights,
    length_batches,
    predict_proba,
    sentiment_frame,
    stratified_sample,
)

# BERT's authors fine-tune with batches of 16-32 and learning rates of 2e-5 to 5e-5, for
# thousands of steps. The quick profile has a few hundred examples (about 50 steps) and the
# default encoder is small (6 layers), so smaller batches and a larger rate learn faster here;
# with 5e-5 or batches of 16 the quick profile's model barely leaves its random head.
DEFAULT_BATCH_SIZE = 8
DEFAULT_LEARNING_RATE = 1e-4
WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.01


class ValidationMacroF1(tf.keras.callbacks.Callback):
    """After each evaluation round, the macro-F1 of the model's predictions on validation
    batches, logged as ``val_macro_f1`` (so ``EarlyStopping(monitor="val_macro_f1",
    mode="max")`` can stop on it and it lands in the history).

    ``dataset``: batches from :func:`length_batches` (features, labels[, weights]);
    ``labels``: the labels in the dataset's order (``labels[order]``), int [n].
    """

    def __init__(self, dataset, labels):
        super().__init__()
        self.dataset = dataset.map(lambda features, *rest: features)
        self.labels = np.asarray(labels).astype(int)

    def on_epoch_end(self, epoch, logs=None):
        from sklearn.metrics import f1_score

        logits = self.model.predict(self.dataset, verbose=0).logits
        predicted = np.argmax(logits, axis=-1)
        if logs is not None:
            logs["val_macro_f1"] = float(f1_score(self.labels, predicted, labels=[0, 1],
                                                  average="macro", zero_division=0))


def load_classifier(encoder=None):
    """``(tokenizer, model, encoder name)``: the encoder with a new two-logit classifier head."""
    from transformers import AutoTokenizer, TFAutoModelForSequenceClassification

    resolved = encoder if isinstance(encoder, ResolvedEncoder) else resolve_encoder(encoder)
    location = resolved.location
    with quiet_transformers():  # it would say, rightly, that "classifier" is newly initialised
        tokenizer = AutoTokenizer.from_pretrained(location, use_fast=True)
        model = TFAutoModelForSequenceClassification.from_pretrained(
            location, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
            label2id={name: i for i, name in enumerate(LABELS)},
        )
    return tokenizer, model, resolved.name


@dataclasses.dataclass
class FineTuneResult:
    """What :func:`finetune_sentiment` trained, and how.

    ``history`` holds per evaluation round (an epoch, or a part of one with
    ``evaluations_per_epoch``) ``loss``, ``accuracy`` and, with validation data,
    ``val_loss`` and ``val_accuracy``; losses are class-weighted cross-entropy.
    ``label_counts`` counts the training labels before augmentation; ``data_fingerprint``
    identifies the train reviews it was tuned on (:func:`data_fingerprint`).
    """

    model: tf.keras.Model
    tokenizer: object
    encoder_name: str
    history: dict[str, list[float]]
    label_counts: dict[str, int]
    class_weight: dict[int, float]
    n_train: int
    n_augmented: int
    max_length: int
    settings: dict
    seconds: float
    data_fingerprint: str = ""

    def predict_proba(self, texts, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
        """Probability that each text is positive, shape [number of texts]."""
        return predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length,
                             batch_size=batch_size)


def finetune_sentiment(train_frame, validation_frame=None, encoder=None, *, max_examples=None,
                       epochs=None, max_length=None, batch_size=None,
                       learning_rate=DEFAULT_LEARNING_RATE, augment=None, balance_classes=True,
                       patience=1, evaluations_per_epoch=1, seed=config.SEED,
                       progress=True, monitor: str = "val_macro_f1") -> FineTuneResult:
    """Fine-tune the encoder (with a new classification head) on review text -> sentiment.

    Args:
      train_frame, validation_frame: reviews with ``schema.TEXT`` and ``schema.RATING`` (or
        ``schema.SENTIMENT``); neutral and empty ones are left out. Without validation data
        there is no early stopping.
      encoder: as for :func:`resolve_encoder` (default: the offline all-MiniLM-L6-v2).
      max_examples: cap on training examples, a stratified seeded sample (None: the profile's
        ``finetune_examples``; ``len(train_frame)`` keeps all); validation is capped the same way.
      epochs: passes over the training data (default: the profile's ``finetune_epochs``).
      max_length: tokens per text (default: the profile's ``max_seq_length``).
      batch_size: texts per step (default 8; see ``DEFAULT_BATCH_SIZE``).
      learning_rate: the peak learning rate, after warm-up (default 1e-4).
      augment: None, a number of EDA copies per training text, or a dict of
        :func:`augment_texts` arguments; copies are added to the sampled training texts.
      balance_classes: weight the loss by :func:`class_weights` of the training labels
        (False: every text weighs 1).
      patience: evaluation rounds without improvement of ``monitor`` before stopping.
      evaluations_per_epoch: evaluate (and record history) this many times per epoch.
      monitor: what early stopping watches: ``"val_macro_f1"`` (the metric the lessons
        report; higher is better) or ``"val_loss"`` (the class-weighted loss).
    """
    start = time.perf_counter()
    profile = config.get_profile()
    max_examples = profile.finetune_examples if max_examples is None else max_examples
    epochs = int(epochs or profile.finetune_epochs)
    max_length = int(max_length or profile.max_seq_length)
    batch_size = int(batch_size or DEFAULT_BATCH_SIZE)
    evaluations_per_epoch = max(1, int(evaluations_per_epoch))
    config.set_seeds(seed)

    train = stratified_sample(sentiment_frame(train_frame), max_examples, seed)
    texts, labels = train[schema.TEXT].tolist(), train[schema.SENTIMENT].to_numpy(np.int32)
    label_counts = {name: int((labels == i).sum()) for i, name in enumerate(LABELS)}
    weights = class_weights(labels) if balance_classes else {i: 1.0 for i in range(len(LABELS))}
    n_augmented = 0
    if augment:
        options = augment if isinstance(augment, dict) else {"n_per_text": int(augment)}
        new_texts, new_labels = augment_texts(texts, labels, seed=seed, **options)
        texts, labels, n_augmented = texts + new_texts, np.r_[labels, new_labels], len(new_texts)

    switches = config.acceleration("finetune")  # mixed precision / XLA: only on a GPU
    with config.mixed_precision(switches.mixed_precision):
        tokenizer, model, encoder_name = load_classifier(encoder)
    train_data, _ = length_batches(tokenizer, texts, labels, batch_size=batch_size,
                                   max_length=max_length, seed=seed)
    rounds = epochs * evaluations_per_epoch
    steps_per_round = max(1, int(train_data.cardinality()) // evaluations_per_epoch)
    model.compile(
        optimizer=_adamw(learning_rate, rounds * steps_per_round),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        weighted_metrics=[],  # accuracy counts every text once; only the loss is weighted
        jit_compile=switches.xla,
    )
    fit_options = {}
    if validation_frame is not None:
        validation = stratified_sample(sentiment_frame(validation_frame), max_examples, seed)
        validation_data, order = _validation_data(tokenizer, validation, weights, max_length)
        labels_in_order = validation[schema.SENTIMENT].to_numpy(np.int32)[order]
        fit_options["validation_data"] = validation_data
        fit_options["callbacks"] = [
            ValidationMacroF1(validation_data, labels_in_order),
            tf.keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max" if monitor == "val_macro_f1" else "min",
                patience=patience, restore_best_weights=True)]
    if progress:  # one line per evaluation round, counted in epochs (Keras would count rounds)
        fit_options["callbacks"] = [*fit_options.get("callbacks", []),
                                    EpochLog(epochs, evaluations_per_epoch)]
    history = model.fit(train_data.repeat(), epochs=rounds, steps_per_epoch=steps_per_round,
                        class_weight=weights, verbose=0, **fit_options)
    settings = {"max_examples": max_examples, "epochs": epochs, "batch_size": batch_size,
                "learning_rate": learning_rate, "augment": augment, "seed": seed,
                "balance_classes": balance_classes, "steps": rounds * steps_per_round,
                "evaluations_per_epoch": evaluations_per_epoch, "monitor": monitor,
                "mixed_precision": switches.mixed_precision, "xla": switches.xla}
    return FineTuneResult(
        model=model, tokenizer=tokenizer, encoder_name=encoder_name,
        history={key: [float(v) for v in values] for key, values in history.history.items()},
        label_counts=label_counts, class_weight=weights, n_train=len(texts),
        n_augmented=n_augmented, max_length=max_length, settings=settings,
        seconds=time.perf_counter() - start, data_fingerprint=data_fingerprint(train_frame),
    )


class EpochLog(tf.keras.callbacks.Callback):
    """Prints one line per evaluation round, labelled in epochs: with two rounds per epoch and
    one epoch, "epoch 0.5/1" then "epoch 1/1" (Keras's own log would say "Epoch 1/2, 2/2")."""

    def __init__(self, epochs: int, evaluations_per_epoch: int = 1):
        super().__init__()
        self.epochs, self.evaluations_per_epoch = epochs, evaluations_per_epoch

    def on_epoch_end(self, round_index, logs=None):
        done = (round_index + 1) / self.evaluations_per_epoch
        values = ", ".join(f"{name} {value:.4f}" for name, value in (logs or {}).items())
        print(f"epoch {done:g}/{self.epochs}: {values}")


def _validation_data(tokenizer, validation, weights, max_length):
    """Validation batches whose texts are weighted like the training loss, so the training and
    validation losses can be compared, and their order (``length_batches``)."""
    labels = validation[schema.SENTIMENT].to_numpy(np.int32)
    sample_weights = np.array([weights[label] for label in labels], np.float32)
    return length_batches(tokenizer, validation[schema.TEXT], labels, max_length=max_length,
                          batch_size=PREDICT_BATCH_SIZE, sample_weights=sample_weights)


def _adamw(learning_rate: float, total_steps: int):
    """AdamW with linear warm-up over the first 10% of the steps, then linear decay to 0.

    No gradient clipping: with heavy class weights and small batches, the rare batches holding
    a minority example have the largest gradients, and clipping them undoes the weighting (in
    our runs on the real reviews, clipping at norm 1 made the model call everything positive).
    """
    from transformers import create_optimizer

    optimizer, _ = create_optimizer(
        init_lr=learning_rate, num_train_steps=total_steps,
        num_warmup_steps=int(WARMUP_FRACTION * total_steps), weight_decay_rate=WEIGHT_DECAY,
    )
    return optimizer


# ---------------------------------------------------------------- saving and reuse

FOLDER_NAME = "finetuned-sentiment"
METADATA_FILE = "textrec_finetune.json"
FINGERPRINT_COLUMNS = (schema.USER, schema.ITEM, schema.RATING, schema.TEXT)


def data_fingerprint(reviews) -> str:
    """A short hash of a reviews frame (its users, items, ratings and texts, those of them it
    has, in order), naming the data a model was tuned on; a string is returned as it is."""
    if isinstance(reviews, str):
        return reviews
    import hashlib

    import pandas as pd

    if schema.TEXT not in reviews:
        raise ValueError(f"the reviews have no {schema.TEXT!r} column to fingerprint")
    columns = [c for c in FINGERPRINT_COLUMNS if c in reviews]
    rows = pd.util.hash_pandas_object(reviews[columns].astype(str), index=False)
    return hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()[:16]


def default_folder(data=None) -> Path:
    """Where the model fine-tuned on ``data`` (the train reviews, or their fingerprint) is
    kept: ``config.model_cache_dir() / "finetuned-sentiment" / <fingerprint>``, so a lesson
    run on other data never picks it up. ``data=None``: the parent folder."""
    folder = config.model_cache_dir() / FOLDER_NAME
    return folder if data is None else folder / data_fingerprint(data)


def save_finetuned(result: FineTuneResult, folder=None, metrics: dict | None = None) -> Path:
    """Write the fine-tuned model (TF ``save_pretrained``), its tokenizer and a json note.

    The default folder is keyed by the train data's fingerprint (:func:`default_folder`). The
    note (``textrec_finetune.json``) records the encoder it started from, the data's
    fingerprint, the labels, ``max_length``, the training settings and history, and
    ``metrics`` when given.
    """
    if folder is None and not result.data_fingerprint:
        raise ValueError("this result has no data fingerprint: give a folder to save it in")
    folder = Path(folder) if folder else default_folder(result.data_fingerprint)
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save_pretrained(folder)
    result.tokenizer.save_pretrained(folder)
    note = {
        "encoder": result.encoder_name, "data_fingerprint": result.data_fingerprint,
        "labels": list(LABELS), "max_length": result.max_length,
        "label_counts": result.label_counts, "n_train": result.n_train,
        "n_augmented": result.n_augmented, "settings": result.settings,
        "history": result.history, "metrics": _plain(metrics or {}),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (folder / METADATA_FILE).write_text(json.dumps(note, indent=2, default=str))
    return folder


def _plain(value):
    """``value`` with NumPy numbers and arrays turned into plain Python, for json."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


@dataclasses.dataclass
class FineTunedSentiment:
    """A saved fine-tuned sentiment model, loaded back (see :func:`load_finetuned`)."""

    model: tf.keras.Model
    tokenizer: object
    metadata: dict
    folder: Path

    @property
    def max_length(self) -> int:
        return int(self.metadata["max_length"])

    def predict_proba(self, texts, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
        """Probability that each text is positive, shape [number of texts]."""
        return predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length,
                             batch_size=batch_size)

    def embedder(self, **options) -> TextEmbedder:
        """A :class:`TextEmbedder` over the fine-tuned encoder (the classifier head unused).

        Its cache is keyed by a name that changes whenever the weights do. ``options`` go to
        :meth:`TextEmbedder.from_model` (``max_length``, ``batch_size``, ...).
        """
        encoder = getattr(self.model, self.model.base_model_prefix)  # e.g. model.bert
        name = f"{self.metadata['encoder']}-{FOLDER_NAME}-{weights_fingerprint(self.folder)}"
        return TextEmbedder.from_model(self.tokenizer, encoder, name, **options)


def load_finetuned(folder=None, data=None) -> FineTunedSentiment:
    """Load what :func:`save_finetuned` wrote: the model tuned on ``data`` (the train reviews,
    or their fingerprint), from ``folder`` or else ``default_folder(data)``.

    Raises ``FileNotFoundError`` with what to run when there is no saved model, or when the
    one in ``folder`` was tuned on other data than ``data``; ``ValueError`` when neither
    ``folder`` nor ``data`` says which model.
    """
    from transformers import AutoTokenizer, TFAutoModelForSequenceClassification

    if folder is None and data is None:
        raise ValueError("say which fine-tuned model: load_finetuned(data=train reviews) loads "
                         "the one tuned on them, or give its folder")
    folder = Path(folder) if folder else default_folder(data)
    if not ((folder / METADATA_FILE).is_file() and has_tf_weights(folder)):
        raise FileNotFoundError(
            f"no fine-tuned sentiment model in {folder}. Run notebooks/02_bert_finetuning.ipynb "
            "on the same data, or textrec.text.finetune_sentiment(...) followed by "
            "save_finetuned(result), first."
        )
    metadata = json.loads((folder / METADATA_FILE).read_text())
    if data is not None and metadata.get("data_fingerprint") != data_fingerprint(data):
        raise FileNotFoundError(
            f"the model in {folder} was fine-tuned on other data (fingerprint "
            f"{metadata.get('data_fingerprint')!r}, these reviews: {data_fingerprint(data)!r}); "
            "run notebooks/02_bert_finetuning.ipynb on this data first")
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
        model = TFAutoModelForSequenceClassification.from_pretrained(folder)
    return FineTunedSentiment(model, tokenizer, metadata, folder)
