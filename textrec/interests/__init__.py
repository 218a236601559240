"""User interest vectors and the semantic signals (sentiment, key phrases, aspects) read from
review text, and the first text-only recommender built on them."""

from textrec.interests.phrases import (
    DEFAULT_ASPECTS,
    aspect_scores,
    candidate_phrases,
    key_phrases,
    rank_phrases,
)
from textrec.interests.profiles import favourite_categories, user_profiles
from textrec.interests.recommender import (
    TextOnlyRecommender,
    embed_train_and_items,
    fit_text_recommender,
    recommend_for_text,
    text_recommender_from_split,
    text_scores,
)
from textrec.interests.sentiment import (
    FrozenEncoderSentiment,
    SentimentScorer,
    fit_frozen_sentiment,
    load_sentiment_scorer,
    sentiment_training_data,
)
from textrec.interests.vectors import (
    METHODS,
    TextVectors,
    embed_texts,
    interest_vectors,
    item_text_vectors,
    normalize_rows,
    recency_weights,
    review_weights,
    sentiment_weights,
    weighted_mean_vectors,
)

__all__ = [
    "DEFAULT_ASPECTS",
    "FrozenEncoderSentiment",
    "METHODS",
    "SentimentScorer",
    "TextOnlyRecommender",
    "TextVectors",
    "aspect_scores",
    "candidate_phrases",
    "embed_texts",
    "embed_train_and_items",
    "favourite_categories",
    "fit_frozen_sentiment",
    "fit_text_recommender",
    "interest_vectors",
    "item_text_vectors",
    "key_phrases",
    "load_sentiment_scorer",
    "normalize_rows",
    "rank_phrases",
    "recency_weights",
    "recommend_for_text",
    "review_weights",
    "sentiment_training_data",
    "sentiment_weights",
    "text_recommender_from_split",
    "text_scores",
    "user_profiles",
    "weighted_mean_vectors",
]
