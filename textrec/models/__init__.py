"""Models: towers, two-tower retrieval, collaborative filtering and the joint-loss model.

Text enters every model as precomputed vectors keyed by id (a user's interest vector, an
item's text vector); see :mod:`textrec.models.text_table` for the accepted forms. Each course
model is built by one recipe with the lessons' settings (:mod:`textrec.models.recipes`).
"""

from textrec.data.review_vectors import ReviewVectors
from textrec.models import early_stopping, encoder_joint, recipes
from textrec.models.early_stopping import ValidationNDCG
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
from textrec.models.index import build_index, candidate_embeddings, recommend, score_matrix
from textrec.models.joint import REVIEW_VECTOR, JointModel, review_dataset, sentiment_labels
from textrec.models.losses import average_loss
from textrec.models.neighbours import (
    history_neighbour_scores,
    neighbour_scores,
    neighbour_weights,
    text_neighbour_scores,
    user_item_matrix,
)
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
from textrec.models.retrieval import (
    TwoTowerModel,
    candidate_id_embeddings,
    candidate_sampling_probabilities,
)
from textrec.models.text_table import TextVectorTable, as_id_matrix, stack_vectors
from textrec.models.towers import CANDIDATE_VECTOR, QUERY_VECTOR, CandidateTower, QueryTower, Tower
from textrec.models.training import EpochTimer, fit_model, make_optimizer

__all__ = [
    "CANDIDATE_VECTOR",
    "ENCODER_SETTINGS",
    "EncoderJointModel",
    "EncoderSettings",
    "ReviewEncoder",
    "early_stopping",
    "encoder_joint",
    "ValidationNDCG",
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
    "sentiment_labels",
    "stack_vectors",
    "text_neighbour_scores",
    "user_item_matrix",
]
