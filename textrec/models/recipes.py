"""One recipe per course model: the lessons' settings and the one function that builds each.

Lesson 04's text-aware two-tower and lesson 05's joint model are built here and only here:
notebooks 04, 05 and 08, the pipeline, the evaluation adapters and the benchmarks all call
:func:`two_tower_recipe` / :func:`joint_model_recipe` with the settings of
:data:`TWO_TOWER_SETTINGS` / :data:`JOINT_SETTINGS` (one frozen dataclass per profile), so a
change of setting reaches all of them at once.

A recipe returns a :class:`Recipe`: ``build()`` makes a fresh, untrained model (call it inside
a distribution strategy's scope, as :func:`textrec.models.fit_model` does),
``train_dataset()`` its training batches, and ``fit()`` trains it with the settings' epochs
and learning rate::

    recipe = recipes.joint_model_recipe(user_text, item_text, reviews)
    history = recipe.fit(validation_dataset)
    model = history.model
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textrec import config
from textrec.data import schema, tfdata
from textrec.data.review_vectors import ReviewVectors
from textrec.models.joint import JointModel, review_dataset
from textrec.models.retrieval import TwoTowerModel, candidate_sampling_probabilities
from textrec.models.towers import CandidateTower, QueryTower
from textrec.models.training import fit_model


@dataclasses.dataclass(frozen=True)
class TwoTowerSettings:
    """Lesson 04's text-aware two-tower.

    embedding_dim: width of the id embeddings and of the towers' outputs; hidden_units: the
    Dense layers of each tower; use_text: whether the towers read the text vectors;
    use_query_ids: whether the query tower learns a user id embedding; normalize:
    L2-normalised outputs (cosine scores); temperature: softmax temperature (None: 1);
    remove_accidental_hits, log_q: the in-batch softmax's corrections; learning_rate (Adam);
    epochs_per_profile_epoch: epochs = this x the profile's ``epochs``.
    """

    embedding_dim: int = 32
    hidden_units: tuple[int, ...] = (64,)
    use_text: bool = True
    use_query_ids: bool = True
    normalize: bool = False
    temperature: float | None = None
    remove_accidental_hits: bool = True
    log_q: bool = True
    learning_rate: float = 0.01
    epochs_per_profile_epoch: int = 3

    def epochs(self, profile: str | None = None) -> int:
        """Training epochs under ``profile`` (None: the active one)."""
        return self.epochs_per_profile_epoch * config.get_profile(profile).epochs


@dataclasses.dataclass(frozen=True)
class JointSettings(TwoTowerSettings):
    """Lesson 05's joint model: lesson 04's towers (the query tower reads its text through a
    ``text_projection_units`` layer that the sentiment head shares) and the loss
    ``L = w_U L_U + w_A L_A + w_R L_R`` (text, retrieval, rating)."""

    w_U: float = 1.0
    w_A: float = 1.0
    w_R: float = 1.0
    text_projection_units: int = 64
    sentiment_hidden_units: tuple[int, ...] = (32,)
    rating_hidden_units: tuple[int, ...] = (32,)

    @property
    def weights(self) -> tuple[float, float, float]:
        """``(w_U, w_A, w_R)``."""
        return self.w_U, self.w_A, self.w_R

    def with_weights(self, w_U: float, w_A: float, w_R: float) -> "JointSettings":
        """The same settings with other loss weights (for an ablation)."""
        return dataclasses.replace(self, w_U=float(w_U), w_A=float(w_A), w_R=float(w_R))


TWO_TOWER_SETTINGS = {"quick": TwoTowerSettings(), "full": TwoTowerSettings()}
JOINT_SETTINGS = {"quick": JointSettings(), "full": JointSettings()}


def settings_for(table: dict, profile: str | None = None):
    """``table[profile]`` for the named (None: the active) profile."""
    return table[config.get_profile(profile).name]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A model's builder, its training data and its settings.

    build: no arguments -> a fresh, untrained model; train_dataset: (batch_size=None,
    seed=SEED) -> shuffled training batches (a fresh dataset gives every model the same
    batches); settings: the frozen settings it was built from; epochs: the training epochs
    when they are not ``settings.epochs()``.
    """

    build: Callable
    train_dataset: Callable
    settings: TwoTowerSettings
    epochs: int | None = None

    def fit(self, validation_dataset=None, epochs: int | None = None,
            batch_size: int | None = None, seed: int = config.SEED, callbacks=None,
            strategy=None):
        """Train a fresh model with the settings' learning rate and epochs (``epochs``
        overrides them); returns the Keras ``History`` (``history.model`` is the model)."""
        return fit_model(self.build, self.train_dataset(batch_size=batch_size, seed=seed),
                         validation_dataset,
                         epochs=epochs or self.epochs or self.settings.epochs(),
                         learning_rate=self.settings.learning_rate, seed=seed,
                         callbacks=callbacks, strategy=strategy)


def _towers(user_text, item_text, settings: TwoTowerSettings, text_projection_units=None,
            user_ids=None, item_ids=None):
    user_ids = _ids(user_text, "user_text") if user_ids is None else user_ids
    item_ids = _ids(item_text, "item_text") if item_ids is None else item_ids
    query = QueryTower(user_ids, settings.embedding_dim, user_text,
                       hidden_units=settings.hidden_units, use_text=settings.use_text,
                       use_ids=settings.use_query_ids, normalize=settings.normalize,
                       text_projection_units=text_projection_units)
    candidate = CandidateTower(item_ids, settings.embedding_dim, item_text,
                               hidden_units=settings.hidden_units, use_text=settings.use_text,
                               normalize=settings.normalize)
    return query, candidate


def _ids(text, name):
    if not hasattr(text, "ids"):
        raise ValueError(f"{name} must have .ids (e.g. interests.TextVectors) unless the ids "
                         f"are given; got {type(text).__name__}")
    return text.ids


def _retrieval_options(settings: TwoTowerSettings, train):
    probabilities = candidate_sampling_probabilities(train) if settings.log_q else None
    return dict(temperature=settings.temperature,
                remove_accidental_hits=settings.remove_accidental_hits,
                candidate_probabilities=probabilities)


def two_tower_recipe(user_text, item_text, train, settings: TwoTowerSettings | None = None,
                     user_ids=None, item_ids=None, **changes) -> Recipe:
    """Lesson 04's text-aware two-tower over ``user_text`` / ``item_text`` (``TextVectors``,
    or any form of :mod:`textrec.models.text_table` when ``user_ids`` / ``item_ids`` give the
    towers' vocabularies; default: the text vectors' ids), trained on the interactions of
    ``train``.

    ``settings`` default to the active profile's :data:`TWO_TOWER_SETTINGS`; ``changes``
    replace single fields (e.g. ``use_text=False`` for the id-only model).
    """
    settings = dataclasses.replace(settings or settings_for(TWO_TOWER_SETTINGS), **changes)
    options = _retrieval_options(settings, train)

    def build():
        return TwoTowerModel(*_towers(user_text, item_text, settings, None, user_ids, item_ids),
                             **options)

    def train_dataset(batch_size=None, seed=config.SEED):
        return tfdata.interactions_dataset(train, batch_size=batch_size, shuffle=True, seed=seed)

    return Recipe(build, train_dataset, settings)


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
    options = _retrieval_options(settings, reviews.frame)
    mean_rating = float(reviews.frame[schema.RATING].mean())

    def build():
        query, candidate = _towers(user_text, item_text, settings,
                                   settings.text_projection_units, user_ids, item_ids)
        return JointModel(query, candidate, text_weight=settings.w_U,
                          retrieval_weight=settings.w_A, rating_weight=settings.w_R,
                          sentiment_hidden_units=settings.sentiment_hidden_units,
                          rating_hidden_units=settings.rating_hidden_units,
                          mean_rating=mean_rating, **options)

    def train_dataset(batch_size=None, seed=config.SEED):
        return review_dataset(reviews, batch_size=batch_size, seed=seed)

    return Recipe(build, train_dataset, settings)


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

    return Recipe(build, train_dataset, settings)
