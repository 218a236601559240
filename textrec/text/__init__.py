"""Text encoders: finding the pretrained model, pooling, and cached sentence embeddings."""

from textrec.text.cache import EmbeddingCache, default_cache_path, text_key
from textrec.text.convert import convert_safetensors_to_tf
from textrec.text.embedding import EmbeddingStats, TextEmbedder
from textrec.text.encoder import (
    EncoderNotFoundError,
    ResolvedEncoder,
    load_encoder,
    package_model_dir,
    resolve_encoder,
)
from textrec.text.pooling import l2_normalize, mean_pool

__all__ = [
    "EmbeddingCache",
    "EmbeddingStats",
    "EncoderNotFoundError",
    "ResolvedEncoder",
    "TextEmbedder",
    "convert_safetensors_to_tf",
    "default_cache_path",
    "l2_normalize",
    "load_encoder",
    "mean_pool",
    "package_model_dir",
    "resolve_encoder",
    "text_key",
]
