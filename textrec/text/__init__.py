"""Text encoders: finding the pretrained model, pooling, cached sentence embeddings, and
fine-tuning the encoder for review sentiment."""

from textrec.text.augment import augment_texts
from textrec.text.cache import EmbeddingCache, default_cache_path, text_key
from textrec.text.compiled import Buckets, CompiledEncoder
from textrec.text.convert import convert_safetensors_to_tf
from textrec.text.embedding import EmbeddingStats, TextEmbedder
from textrec.text.encoder import (
    EncoderNotFoundError,
    ResolvedEncoder,
    load_encoder,
    package_model_dir,
    resolve_encoder,
)
from textrec.text.finetune import (
    FineTunedSentiment,
    FineTuneResult,
    finetune_sentiment,
    load_finetuned,
    save_finetuned,
)
from textrec.text.pooling import l2_normalize, mean_pool
from textrec.text.sentiment_data import class_weights, sentiment_frame
from textrec.text.sentiment_eval import (
    binary_macro_f1,
    evaluate_sentiment,
    frozen_embedding_baseline,
    majority_baseline,
    sentiment_metrics,
)

__all__ = [
    "Buckets",
    "CompiledEncoder",
    "EmbeddingCache",
    "EmbeddingStats",
    "EncoderNotFoundError",
    "FineTuneResult",
    "FineTunedSentiment",
    "ResolvedEncoder",
    "TextEmbedder",
    "augment_texts",
    "binary_macro_f1",
    "class_weights",
    "convert_safetensors_to_tf",
    "default_cache_path",
    "evaluate_sentiment",
    "finetune_sentiment",
    "frozen_embedding_baseline",
    "l2_normalize",
    "load_encoder",
    "load_finetuned",
    "majority_baseline",
    "mean_pool",
    "package_model_dir",
    "resolve_encoder",
    "save_finetuned",
    "sentiment_frame",
    "sentiment_metrics",
    "text_key",
]
