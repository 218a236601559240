"""Every model of the course, in one folder.

* closed-form and count-based (NumPy/SciPy): most popular (:mod:`~textrec.models.popularity`),
  item-kNN and EASE (:mod:`~textrec.models.item_based`), EASE with review text as side
  information and the text-only recommender (:mod:`~textrec.models.text_ease`), ALS and BPR
  from the optional ``implicit`` package (:mod:`~textrec.models.implicit_library`), user-based
  CF (:mod:`~textrec.models.neighbours`);
* trained in TensorFlow: towers, two-tower retrieval, matrix factorisation, the joint-loss
  model, the joint model that trains the encoder, and the sequence model over each user's
  items in time order (:mod:`~textrec.models.sequence`), with epochs chosen on validation
  (:mod:`~textrec.models.epoch_selection`).

Text enters every neural model as precomputed vectors keyed by id (a user's interest vector, an
item's text vector); see :mod:`textrec.models.text_table` for the accepted forms. Each course
model is built by one recipe with the lessons' settings (:mod:`textrec.models.recipes`).
:mod:`textrec.evaluation` judges their score matrices and knows none of them.
"""

from textrec.data.review_vectors import ReviewVectors
from textrec.models import (
    encoder_joint,
    epoch_selection,
    item_based,
    popularity,
    recipes,
    sequence,
    text_ease,
)
from textrec.models.encoder_joint import (
    ENCODER_SETTINGS,
    EncoderJointModel,
    EncoderSettings,
    ReviewEncoder,
    encoder_joint_recipe,
)
from textrec.models.factorization import (
    FactorTower,
    ImplicitMatrixFactorization,
    MatrixFactorization,
)
from textrec.models.implicit_library import ImplicitALS, ImplicitBPR, implicit_available
from textrec.models.index import (
    build_index,
    candidate_embeddings,
    recommend,
    score_matrix,
    tower_scores,
)
from textrec.models.item_based import EASE, ItemKNN, cosine_similarity, ease_weights
from textrec.models.joint import REVIEW_VECTOR, JointModel, review_dataset, sentiment_labels
from textrec.models.losses import average_loss
from textrec.models.neighbours import (
    history_neighbour_scores,
    neighbour_scores,
    neighbour_weights,
    text_neighbour_scores,
    user_item_matrix,
)
from textrec.models.popularity import MostPopular, item_popularity, most_popular_scores
from textrec.models.recipes import (
    JOINT_SETTINGS,
    MF_SETTINGS,
    TWO_TOWER_SETTINGS,
    JointSettings,
    MatrixFactorizationSettings,
    Recipe,
    TrainingSettings,
    TwoTowerSettings,
    joint_model_recipe,
    matrix_factorization_recipe,
    penalty_weight,
    two_tower_recipe,
)
from textrec.models.recipes import SEQUENCE_SETTINGS, SequenceSettings, sequence_model_recipe
from textrec.models.epoch_selection import BestEpoch
from textrec.models.sequence import SequenceModel, TextAdaptor, causal_attention_mask
from textrec.models.retrieval import (
    TwoTowerModel,
    candidate_id_embeddings,
    candidate_sampling_probabilities,
)
from textrec.models.text_ease import ReviewText, TextEASE, TextOnly
from textrec.models.text_table import TextVectorTable, as_id_matrix, stack_vectors
from textrec.models.towers import CANDIDATE_VECTOR, QUERY_VECTOR, CandidateTower, QueryTower, Tower
from textrec.models.training import EpochTimer, fit_model, make_optimizer

__all__ = [
    "BestEpoch",
    "SEQUENCE_SETTINGS",
    "SequenceModel",
    "SequenceSettings",
    "TextAdaptor",
    "causal_attention_mask",
    "epoch_selection",
    "sequence",
    "sequence_model_recipe",
    "EASE",
    "ImplicitALS",
    "ImplicitBPR",
    "ItemKNN",
    "MostPopular",
    "ReviewText",
    "TextEASE",
    "TextOnly",
    "cosine_similarity",
    "ease_weights",
    "implicit_available",
    "item_based",
    "item_popularity",
    "most_popular_scores",
    "popularity",
    "text_ease",
    "CANDIDATE_VECTOR",
    "ENCODER_SETTINGS",
    "EncoderJointModel",
    "EncoderSettings",
    "ReviewEncoder",
    "encoder_joint",
    "encoder_joint_recipe",
    "JOINT_SETTINGS",
    "MF_SETTINGS",
    "TWO_TOWER_SETTINGS",
    "JointSettings",
    "MatrixFactorizationSettings",
    "Recipe",
    "ReviewVectors",
    "TrainingSettings",
    "TwoTowerSettings",
    "joint_model_recipe",
    "matrix_factorization_recipe",
    "penalty_weight",
    "recipes",
    "two_tower_recipe",
    "QUERY_VECTOR",
    "REVIEW_VECTOR",
    "CandidateTower",
    "EpochTimer",
    "FactorTower",
    "ImplicitMatrixFactorization",
    "JointModel",
    "MatrixFactorization",
    "QueryTower",
    "TextVectorTable",
    "Tower",
    "TwoTowerModel",
    "as_id_matrix",
    "average_loss",
    "build_index",
    "candidate_embeddings",
    "candidate_id_embeddings",
    "candidate_sampling_probabilities",
    "fit_model",
    "history_neighbour_scores",
    "make_optimizer",
    "neighbour_scores",
    "neighbour_weights",
    "recommend",
    "review_dataset",
    "score_matrix",
    "tower_scores",
    "sentiment_labels",
    "stack_vectors",
    "text_neighbour_scores",
    "user_item_matrix",
]
