"""One recipe per course model: the lessons' settings and the one function that builds each.

Matrix factorisation (lesson 05), the two towers (lesson 04) and the joint model (lesson 05)
are built here and only here: the notebooks, the pipeline, the evaluation adapters and the
benchmarks all call :func:`matrix_factorization_recipe`, :func:`two_tower_recipe` and
:func:`joint_model_recipe` with the settings of :data:`MF_SETTINGS`,
:data:`TWO_TOWER_SETTINGS` and :data:`JOINT_SETTINGS` (one frozen dataclass per profile), so a
change of setting reaches all of them at once. The defaults are the values
``benchmarks/models_benchmark.py`` chose on the validation split of the shared real data
(Amazon Musical Instruments reviews); its report lists the search and its budget.

Every recipe trains its model to rank: a softmax over items (the whole catalogue for matrix
factorisation, the batch's items with the log-Q correction for the towers), a learned item
bias, an L2 penalty on each pair's embeddings and, for the towers, dropout on the text input.
The penalty's ``l2`` is given *per average item*: the model's weight on ``|q|^2 + |c|^2`` is
``l2 x items / train interactions`` (:func:`penalty_weight`), so that over an epoch each item
is penalised ``l2 x`` its interactions relative to the average item's, whatever the size of
the data.

A recipe returns a :class:`Recipe`: ``build()`` makes a fresh, untrained model (call it inside
a distribution strategy's scope, as :func:`textrec.models.fit_model` does),
``train_dataset()`` its training batches, and ``fit()`` trains it. With ``stop_on=measure``
(``model -> float``, the course's is :func:`textrec.evaluation.validation_ndcg`) it stops where
the measure is best (:class:`~textrec.models.epoch_selection.BestEpoch`) and keeps that epoch's
weights; a refit on train + validation then trains for ``history.best_epoch`` epochs::

    recipe = recipes.joint_model_recipe(user_text, item_text, reviews)
    validation_ndcg = evaluation.validation_ndcg(split, recipe.user_ids, recipe.item_ids,
                                                 models.tower_scores(recipe.user_ids,
                                                                     recipe.item_ids))
    history = recipe.fit(stop_on=validation_ndcg)      # at most settings.max_epochs
    model, epochs = history.model, history.best_epoch
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textrec import config
from textrec.data import schema, tfdata
from textrec.data.review_vectors import ReviewVectors
from textrec.models.epoch_selection import BestEpoch
from textrec.models.factorization import ImplicitMatrixFactorization
from textrec.models.joint import JointModel, review_dataset
from textrec.models.retrieval import TwoTowerModel, candidate_sampling_probabilities
from textrec.models.towers import CandidateTower, QueryTower
from textrec.models.training import fit_model


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How a recipe trains. learning_rate: Adam's; batch_size: None for the profile's;
    max_epochs, patience: early stopping on validation NDCG@10 (``fit(stop_on=measure)``) trains
    at most ``max_epochs`` and stops after ``patience`` epochs without a better one; epochs: the
    epochs trained when there is no split to stop on (the number chosen on the real data's
    validation)."""

    learning_rate: float = 0.02
    batch_size: int | None = 256
    max_epochs: int = 60
    patience: int = 8
    epochs: int = 20


@dataclasses.dataclass(frozen=True)
class MatrixFactorizationSettings(TrainingSettings):
    """Lesson 05's matrix factorisation on implicit feedback (``score = p_u . q_i + b_i``).

    embedding_dim: latent factors; l2: the penalty per average item (see the module);
    full_softmax_max_items: a catalogue up to this size gets the exact softmax, a larger one a
    sampled softmax of ``num_sampled`` items.
    """

    embedding_dim: int = 32
    l2: float = 2.2
    full_softmax_max_items: int = 50_000
    num_sampled: int = 1024


@dataclasses.dataclass(frozen=True)
class TwoTowerSettings(TrainingSettings):
    """Lesson 04's two-tower.

    embedding_dim: width of the id embeddings; text_projection_units: width of the linear
    projection of the text vectors (the towers output ``[id embedding, projected text]``, plus
    the bias coordinate); hidden_units: Dense layers that mix the two instead (empty: none);
    use_text: whether the towers read the text vectors; use_query_ids: whether the query tower
    learns a user id embedding; item_bias: a learned per-item bias in the score; l2: the
    penalty on each pair's embeddings, per average item (see the module); text_dropout: share
    of the text input dropped in training; normalize: L2-normalised outputs (cosine scores);
    temperature: softmax temperature (None: 1); remove_accidental_hits, log_q: the in-batch
    softmax's corrections.
    """

    embedding_dim: int = 32
    text_projection_units: int = 32
    hidden_units: tuple[int, ...] = ()
    use_text: bool = True
    use_query_ids: bool = True
    item_bias: bool = True
    l2: float = 2.2
    text_dropout: float = 0.2
    normalize: bool = False
    temperature: float | None = None
    remove_accidental_hits: bool = True
    log_q: bool = True


@dataclasses.dataclass(frozen=True)
class JointSettings(TwoTowerSettings):
    """Lesson 05's joint model: lesson 04's towers (the query tower's text projection shared
    with the sentiment head) and the loss ``L = w_U L_U + w_A L_A + w_R L_R`` (text, retrieval,
    rating) plus the towers' penalty. ``w_U`` and ``w_R`` are small: they shape the towers
    without overriding the ranking that ``L_A`` teaches."""

    w_U: float = 0.1
    w_A: float = 1.0
    w_R: float = 0.03
    sentiment_hidden_units: tuple[int, ...] = (32,)
    rating_hidden_units: tuple[int, ...] = (32,)

    @property
    def weights(self) -> tuple[float, float, float]:
        """``(w_U, w_A, w_R)``."""
        return self.w_U, self.w_A, self.w_R

    def with_weights(self, w_U: float, w_A: float, w_R: float) -> "JointSettings":
        """The same settings with other loss weights (for an ablation)."""
        return dataclasses.replace(self, w_U=float(w_U), w_A=float(w_A), w_R=float(w_R))


# Chosen on the validation split of the shared real data (benchmarks/models_benchmark.py).
# The full profile (a GPU) runs more epochs before giving up.
MF_SETTINGS = {"quick": MatrixFactorizationSettings(),
               "full": MatrixFactorizationSettings(max_epochs=100, patience=12)}
TWO_TOWER_SETTINGS = {"quick": TwoTowerSettings(),
                      "full": TwoTowerSettings(max_epochs=100, patience=12)}
JOINT_SETTINGS = {"quick": JointSettings(), "full": JointSettings(max_epochs=100, patience=12)}


def settings_for(table: dict, profile: str | None = None):
    """``table[profile]`` for the named (None: the active) profile."""
    return table[config.get_profile(profile).name]


def penalty_weight(l2: float, train) -> float:
    """The model's weight on each pair's ``|q|^2 + |c|^2`` for a penalty of ``l2`` per
    average item: ``l2 x items / interactions`` of ``train`` (a frame with ``schema.ITEM``)."""
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    if len(train) == 0:
        raise ValueError("the train frame is empty")
    return float(l2) * train[schema.ITEM].nunique() / len(train)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A model's builder, its training data and its settings.

    build: no arguments -> a fresh, untrained model; train_dataset: (batch_size=None,
    seed=SEED) -> shuffled training batches (a fresh dataset gives every model the same
    batches); settings: the frozen settings it was built from; user_ids, item_ids: the model's
    vocabularies (the rows and columns its scores are evaluated on); epochs: the training
    epochs without early stopping when they are not ``settings.epochs``.
    """

    build: Callable
    train_dataset: Callable
    settings: TrainingSettings
    user_ids: object = None
    item_ids: object = None
    epochs: int | None = None

    def fit(self, validation_dataset=None, epochs: int | None = None,
            batch_size: int | None = None, seed: int = config.SEED, callbacks=None,
            strategy=None, stop_on=None):
        """Train a fresh model with the settings' learning rate; returns the Keras ``History``
        (``history.model`` is the model, ``history.best_epoch`` the epochs it was trained for).

        Without ``stop_on``: ``epochs`` epochs (default ``settings.epochs``). With ``stop_on``
        (a validation measure ``model -> float``, higher is better, e.g.
        :func:`textrec.evaluation.validation_ndcg`): at most ``epochs`` (default
        ``settings.max_epochs``), stopping ``settings.patience`` epochs after the best value;
        the best epoch's weights are kept, ``history.stopping`` is the
        :class:`~textrec.models.epoch_selection.BestEpoch` callback (its value per epoch is
        ``val_ndcg@10`` in ``history.history``).
        """
        if stop_on is not None and not callable(stop_on):
            raise TypeError("stop_on must be a measure model -> float (e.g. "
                            "textrec.evaluation.validation_ndcg(split, user_ids, item_ids, "
                            f"scores)), got {type(stop_on).__name__}")
        if seed is not None:        # before the batches are shuffled: the first fit in a process
            config.set_seeds(seed)  # then draws the same batches as every later one
        callbacks = list(callbacks or [])
        stopping = None
        if stop_on is not None:
            stopping = BestEpoch(stop_on, patience=self.settings.patience)
            callbacks.insert(0, stopping)
            epochs = epochs or self.settings.max_epochs
        else:
            epochs = epochs or self.epochs or self.settings.epochs
        history = fit_model(self.build, self.train_dataset(batch_size=batch_size, seed=seed),
                            validation_dataset, epochs=epochs,
                            learning_rate=self.settings.learning_rate, seed=seed,
                            callbacks=callbacks, strategy=strategy)
        history.stopping = stopping
        history.best_epoch = stopping.best_epoch if stopping is not None else len(history.epoch)
        return history


def _ids(text, name):
    if not hasattr(text, "ids"):
        raise ValueError(f"{name} must have .ids (e.g. interests.TextVectors) unless the ids "
                         f"are given; got {type(text).__name__}")
    return text.ids


def _towers(user_text, item_text, settings: TwoTowerSettings, user_ids, item_ids):
    query = QueryTower(user_ids, settings.embedding_dim, user_text,
                       hidden_units=settings.hidden_units, use_text=settings.use_text,
                       use_ids=settings.use_query_ids, normalize=settings.normalize,
                       text_projection_units=settings.text_projection_units,
                       text_dropout=settings.text_dropout,
                       bias="one" if settings.item_bias else None)
    candidate = CandidateTower(item_ids, settings.embedding_dim, item_text,
                               hidden_units=settings.hidden_units, use_text=settings.use_text,
                               normalize=settings.normalize,
                               text_projection_units=settings.text_projection_units,
                               text_dropout=settings.text_dropout,
                               bias="learned" if settings.item_bias else None)
    return query, candidate


def retrieval_options(settings: TwoTowerSettings, train):
    probabilities = candidate_sampling_probabilities(train) if settings.log_q else None
    return dict(temperature=settings.temperature,
                remove_accidental_hits=settings.remove_accidental_hits,
                candidate_probabilities=probabilities, l2=penalty_weight(settings.l2, train))


def _interactions(train, settings):
    def train_dataset(batch_size=None, seed=config.SEED):
        return tfdata.interactions_dataset(train, batch_size=batch_size or settings.batch_size,
                                           shuffle=True, seed=seed)
    return train_dataset


def matrix_factorization_recipe(train, settings: MatrixFactorizationSettings | None = None,
                                user_ids=None, item_ids=None, **changes) -> Recipe:
    """Lesson 05's matrix factorisation trained to rank
    (:class:`~textrec.models.ImplicitMatrixFactorization`) on the interactions of ``train``.

    ``user_ids`` / ``item_ids``: the vocabularies (default: those of ``train``; the item
    vocabulary is the catalogue the softmax runs over). ``settings`` default to the active
    profile's :data:`MF_SETTINGS`; ``changes`` replace single fields.
    """
    settings = dataclasses.replace(settings or settings_for(MF_SETTINGS), **changes)
    user_ids = tfdata.vocabulary(train[schema.USER]) if user_ids is None else user_ids
    item_ids = tfdata.vocabulary(train[schema.ITEM]) if item_ids is None else item_ids
    counts = train[schema.ITEM].astype(str).value_counts().to_dict()
    l2 = penalty_weight(settings.l2, train)

    def build():
        return ImplicitMatrixFactorization(
            user_ids, item_ids, settings.embedding_dim, l2=l2, item_counts=counts,
            full_softmax_max_items=settings.full_softmax_max_items,
            num_sampled=settings.num_sampled)

    return Recipe(build, _interactions(train, settings), settings, user_ids, item_ids)


def two_tower_recipe(user_text, item_text, train, settings: TwoTowerSettings | None = None,
                     user_ids=None, item_ids=None, **changes) -> Recipe:
    """Lesson 04's two-tower over ``user_text`` / ``item_text`` (``TextVectors``, or any form
    of :mod:`textrec.models.text_table` when ``user_ids`` / ``item_ids`` give the towers'
    vocabularies; default: the text vectors' ids), trained on the interactions of ``train``.

    ``settings`` default to the active profile's :data:`TWO_TOWER_SETTINGS`; ``changes``
    replace single fields (e.g. ``use_text=False`` for the id-only model).
    """
    settings = dataclasses.replace(settings or settings_for(TWO_TOWER_SETTINGS), **changes)
    user_ids = _ids(user_text, "user_text") if user_ids is None else user_ids
    item_ids = _ids(item_text, "item_text") if item_ids is None else item_ids
    options = retrieval_options(settings, train)

    def build():
        return TwoTowerModel(*_towers(user_text, item_text, settings, user_ids, item_ids),
                             **options)

    return Recipe(build, _interactions(train, settings), settings, user_ids, item_ids)


def joint_model_recipe(user_text, item_text, reviews, review_vectors=None,
                       settings: JointSettings | None = None, user_ids=None, item_ids=None,
                       **changes) -> Recipe:
    """Lesson 05's joint model, trained on the train ``reviews`` with their own text vectors.

    Args:
      user_text, item_text: the towers' text vectors (``TextVectors``; or any form of
        :mod:`textrec.models.text_table` with ``user_ids`` / ``item_ids``, the vocabularies).
      reviews: a :class:`~textrec.data.review_vectors.ReviewVectors` of the train reviews, or
        their frame with ``review_vectors`` [len(frame), dim].
      settings: default: the active profile's :data:`JOINT_SETTINGS`; ``changes`` replace
        single fields (e.g. ``w_U=0``).
    """
    reviews = ReviewVectors.of(reviews, review_vectors)
    settings = dataclasses.replace(settings or settings_for(JOINT_SETTINGS), **changes)
    user_ids = _ids(user_text, "user_text") if user_ids is None else user_ids
    item_ids = _ids(item_text, "item_text") if item_ids is None else item_ids
    options = retrieval_options(settings, reviews.frame)
    mean_rating = float(reviews.frame[schema.RATING].mean())

    def build():
        query, candidate = _towers(user_text, item_text, settings, user_ids, item_ids)
        return JointModel(query, candidate, text_weight=settings.w_U,
                          retrieval_weight=settings.w_A, rating_weight=settings.w_R,
                          sentiment_hidden_units=settings.sentiment_hidden_units,
                          rating_hidden_units=settings.rating_hidden_units,
                          mean_rating=mean_rating, **options)

    def train_dataset(batch_size=None, seed=config.SEED):
        return review_dataset(reviews, batch_size=batch_size or settings.batch_size, seed=seed)

    return Recipe(build, train_dataset, settings, user_ids, item_ids)


# --- Lesson 10: the sequence model ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SequenceSettings:
    """Lesson 10's causal transformer over each user's items (:mod:`textrec.models.sequence`).

    representation: "ids", "text" or "text+ids"; max_length: the most recent items read;
    embedding_dim, n_layers, n_heads: the transformer; n_experts: the text adaptor's
    whitenings; dropout, l2: the regularisation; learning_rate (Adam), batch_size (users per
    batch); max_epochs, patience: the epochs, chosen on validation NDCG@10
    (:class:`textrec.models.epoch_selection.BestEpoch`) among at most ``epochs()``.
    """

    representation: str = "text+ids"
    max_length: int = 50
    embedding_dim: int = 64
    n_layers: int = 2
    n_heads: int = 2
    n_experts: int = 4
    dropout: float = 0.3
    l2: float = 0.0
    learning_rate: float = 0.001
    batch_size: int = 128
    max_epochs: int = 60
    patience: int = 8

    def epochs(self, profile: str | None = None) -> int:
        """The most epochs a fit may run (the validation picks fewer): ``max_epochs``, scaled
        down with the profile (``TEXTREC_FULL_SCALE``), at least 1."""
        return max(1, round(self.max_epochs * config.get_profile(profile).scale))


SEQUENCE_SETTINGS = {
    # A 2-core CPU: the last 20 items (most users have fewer), a faster rate, fewer epochs.
    "quick": SequenceSettings(max_length=20, learning_rate=0.003, max_epochs=40, patience=5),
    "full": SequenceSettings(max_epochs=200, patience=20),
}


def sequence_model_recipe(history, item_ids, item_text=None, user_ids=None,
                          settings: SequenceSettings | None = None, **changes) -> Recipe:
    """Lesson 10's sequence model over the items of ``item_ids``, trained on the users' items
    in ``history`` (a reviews frame: the fit's interactions, in time order by ``timestamp``
    and file ``order``).

    Args:
      item_text: the items' frozen text vectors (any form of :mod:`textrec.models.text_table`;
        items without one get zeros), needed unless the representation is "ids". Build them
        from the reviews of the fit only.
      user_ids: the users whose sequences train it (default: every user of ``history``).
      settings: default: the active profile's :data:`SEQUENCE_SETTINGS`; ``changes`` replace
        single fields (e.g. ``representation="ids"``).

    Items with no interaction in ``history`` stay out of the training softmax
    (``trained_items``) but are scored, by their text (and an untrained id row).
    """
    import numpy as np

    from textrec.data import sequences as sequence_data
    from textrec.models.sequence import SequenceModel
    from textrec.models.text_table import stack_vectors

    settings = dataclasses.replace(settings or settings_for(SEQUENCE_SETTINGS), **changes)
    item_ids = [str(i) for i in item_ids]
    if user_ids is None:
        user_ids = sorted(history[schema.USER].astype(str).unique())
    sequences = sequence_data.user_sequences(history, user_ids, item_ids)
    trained = np.zeros(len(item_ids), bool)
    trained[np.concatenate([np.asarray(s, int) for s in sequences] + [np.zeros(0, int)]) - 1] = True
    text = None
    if "text" in settings.representation:
        if item_text is None:
            raise ValueError(f"the {settings.representation!r} representation needs item_text")
        text = stack_vectors(item_text, item_ids)

    def build():
        return SequenceModel(item_ids, text, settings.representation, trained,
                             settings.max_length, settings.embedding_dim, settings.n_layers,
                             settings.n_heads, settings.dropout, settings.n_experts, settings.l2)

    def train_dataset(batch_size=None, seed=config.SEED):
        return sequence_data.next_item_dataset(sequences, settings.max_length,
                                               batch_size or settings.batch_size, seed=seed)

    return Recipe(build, train_dataset, settings, user_ids, item_ids)
