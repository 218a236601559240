"""Paths, seeds and the run profile.

Every size a notebook or the pipeline uses comes from the active :class:`Profile`:

* ``quick``: sized for a 2-core CPU (CI, a laptop); every notebook runs in minutes;
* ``full``: sized for a GPU or Colab.

The profile is read from ``TEXTREC_PROFILE``; when it is unset, ``full`` is chosen when
TensorFlow sees a GPU and ``quick`` otherwise.

Paths, all overridable by environment variables:

* ``TEXTREC_HOME``: the root for data, caches and reports (default: the repository checkout
  when textrec runs from one, else ``~/textrec``);
* ``TEXTREC_DATA``: a review file to use instead of the synthetic default (Amazon 2014 or 2018
  JSON lines, ``.json`` or ``.json.gz``);
* ``TEXTREC_CACHE``, ``TEXTREC_REPORTS``: the model/embedding cache and the report folder.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np

SEED = 42
GITHUB_REPOSITORY = "textrec-course/textrec"
PROFILE_NAMES = ("quick", "full")


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes for one kind of machine. Later lessons read their sizes from here."""

    name: str
    # Synthetic review world.
    synthetic_users: int
    synthetic_items: int
    synthetic_reviews: int
    # Data preparation.
    k_core: int
    # tf.data and training.
    batch_size: int
    max_seq_length: int
    embedding_batch_size: int
    epochs: int
    # Fine-tuning the text encoder.
    finetune_examples: int
    finetune_epochs: int
    # Default encoder: None means "the offline package".
    encoder: str | None


PROFILES = {
    "quick": Profile(
        name="quick",
        synthetic_users=400,
        synthetic_items=160,
        synthetic_reviews=4_000,
        k_core=3,
        batch_size=256,
        max_seq_length=128,
        embedding_batch_size=64,
        epochs=3,
        finetune_examples=384,
        finetune_epochs=2,
        encoder=None,
    ),
    "full": Profile(
        name="full",
        synthetic_users=2_500,
        synthetic_items=800,
        synthetic_reviews=25_000,
        k_core=3,
        batch_size=1024,
        max_seq_length=256,
        embedding_batch_size=256,
        epochs=20,
        finetune_examples=20_000,
        finetune_epochs=3,
        encoder=None,
    ),
}


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU (imports TensorFlow; call after ``import textrec``)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def profile_name() -> str:
    """The active profile's name: ``TEXTREC_PROFILE``, else ``full`` on a GPU, else ``quick``."""
    name = os.environ.get("TEXTREC_PROFILE", "").strip().lower()
    if not name:
        return "full" if gpu_visible() else "quick"
    if name not in PROFILES:
        raise ValueError(
            f"TEXTREC_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILE_NAMES)}."
        )
    return name


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, or the active one when ``name`` is None."""
    name = profile_name() if name is None else name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILE_NAMES)}.")
    return PROFILES[name]


def _checkout_root() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def home() -> Path:
    """The root folder for data, caches and reports."""
    if os.environ.get("TEXTREC_HOME"):
        return Path(os.environ["TEXTREC_HOME"]).expanduser()
    return _checkout_root() or Path.home() / "textrec"


def data_dir() -> Path:
    """Downloads (``raw/``) and prepared splits (``prepared/``)."""
    return home() / "data"


def cache_dir() -> Path:
    """Converted models and embedding caches."""
    if os.environ.get("TEXTREC_CACHE"):
        return Path(os.environ["TEXTREC_CACHE"]).expanduser()
    return home() / ".cache"


def model_cache_dir() -> Path:
    return cache_dir() / "models"


def reports_dir() -> Path:
    if os.environ.get("TEXTREC_REPORTS"):
        return Path(os.environ["TEXTREC_REPORTS"]).expanduser()
    return home() / "reports"


def data_source() -> str:
    """``TEXTREC_DATA`` (a review file path), or ``"synthetic"`` for the bundled default."""
    return os.environ.get("TEXTREC_DATA", "").strip() or "synthetic"


def set_seeds(seed: int = SEED, deterministic_ops: bool = False) -> None:
    """Seed Python, NumPy and (when it is loaded) TensorFlow, so reruns give the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    import sys

    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        if deterministic_ops:
            tf.config.experimental.enable_op_determinism()


def colab_badge_url(notebook_path: str) -> str:
    """The Open-in-Colab URL for a notebook at ``notebook_path`` in the repository."""
    return f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/main/{notebook_path}"
