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

Two more settings, for the full profile:

* ``TEXTREC_FULL_SCALE``: a number in (0, 1] that scales the ``full`` profile's sizes down (the
  profile keeps its name, k-core and switches), so its code paths can run in miniature on a CPU;
* ``TEXTREC_ACCELERATION``: overrides the profile's mixed precision and XLA switches per
  workload, e.g. ``finetune=mixed_precision+xla,joint=none`` (see :func:`acceleration`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from pathlib import Path

import numpy as np

from textrec import _colab

SEED = 42
GITHUB_REPOSITORY = _colab.REPOSITORY  # the one setting lives in textrec/_colab.py
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
    # Mixed precision and XLA per workload, applied only where TensorFlow sees a GPU
    # (see :func:`acceleration`); "" switches everything off.
    acceleration: str = ""
    # 1.0, or the TEXTREC_FULL_SCALE this profile was scaled down by.
    scale: float = 1.0


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
        # Why each switch, and what the GPU run measures: benchmarks/results/full_profile.md.
        acceleration="finetune=mixed_precision,joint=none,dp_sgd=xla",
    ),
}

WORKLOADS = ("finetune", "joint", "dp_sgd")
SWITCHES = ("mixed_precision", "xla")
FLOAT32_ONLY = {
    "dp_sgd": "DP-SGD stays in float32 (its clipping and noise would be rounded in float16)",
    "joint": "the joint model stays in float32 (its towers concatenate float32 text vectors "
             "with the id embeddings, which fails in float16; its 32-wide layers would gain "
             "little from tensor cores)",
}


@dataclasses.dataclass(frozen=True)
class Acceleration:
    """The switches for one workload: compute in float16 with float32 variables
    (``mixed_float16``), and compile the training step with XLA (``jit_compile``)."""

    mixed_precision: bool = False
    xla: bool = False


def parse_acceleration(spec: str, where: str = "acceleration") -> dict[str, Acceleration]:
    """``"finetune=mixed_precision+xla,joint=none"`` -> {workload: Acceleration}.

    Workloads not named are left out of the result. Two have no mixed precision
    (:data:`FLOAT32_ONLY` says why).
    """
    settings = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        workload, _, flags = (text.strip() for text in part.partition("="))
        chosen = {f.strip() for f in flags.split("+")} - {"none", ""}
        if workload not in WORKLOADS or not flags or chosen - set(SWITCHES):
            raise ValueError(
                f"{where}: cannot read {part!r}; write workload=switch+switch with a workload "
                f"from {WORKLOADS} and switches from {SWITCHES} (or none).")
        if workload in FLOAT32_ONLY and "mixed_precision" in chosen:
            raise ValueError(f"{where}: {FLOAT32_ONLY[workload]}; use {workload}=xla or "
                             f"{workload}=none.")
        settings[workload] = Acceleration(**{name: name in chosen for name in SWITCHES})
    return settings


def acceleration_plan(name: str | None = None) -> dict[str, Acceleration]:
    """Every workload's switches in a profile, ``TEXTREC_ACCELERATION`` applied, as they would
    be on a GPU (the profile's choice, before :func:`acceleration` checks for one)."""
    plan = {workload: Acceleration() for workload in WORKLOADS}
    plan.update(parse_acceleration(get_profile(name).acceleration))
    override = os.environ.get("TEXTREC_ACCELERATION", "").strip()
    if override:
        plan.update(parse_acceleration(override, "TEXTREC_ACCELERATION"))
    return plan


def acceleration(workload: str, name: str | None = None) -> Acceleration:
    """The switches ``workload`` ("finetune", "joint" or "dp_sgd") trains with: the profile's
    (see :func:`acceleration_plan`) where TensorFlow sees a GPU, all off otherwise."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; use one of {WORKLOADS}")
    plan = acceleration_plan(name)
    return plan[workload] if gpu_visible() else Acceleration()


@contextlib.contextmanager
def mixed_precision(enabled: bool):
    """Within the block, Keras layers are built with the ``mixed_float16`` policy (when
    ``enabled``); the previous global policy comes back after it."""
    if not enabled:
        yield
        return
    import tensorflow as tf

    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)


def xla_applies(settings: Acceleration, element_spec) -> bool:
    """Whether to compile a training step with XLA: ``settings.xla`` and batches (a dataset's
    ``element_spec``) without strings, since XLA cannot compile string id lookups."""
    if not settings.xla:
        return False
    import tensorflow as tf

    return all(spec.dtype != tf.string for spec in tf.nest.flatten(element_spec))


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
    """The profile called ``name``, or the active one when ``name`` is None; ``full`` is
    scaled down by ``TEXTREC_FULL_SCALE`` when that is set (see :func:`scaled`)."""
    name = profile_name() if name is None else name
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILE_NAMES)}.")
    scale = os.environ.get("TEXTREC_FULL_SCALE", "").strip()
    if name == "full" and scale:
        return scaled(PROFILES[name], _read_scale(scale))
    return PROFILES[name]


def _read_scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        scale = float("nan")
    if not 0 < scale <= 1:
        raise ValueError(f"TEXTREC_FULL_SCALE={text!r} must be a number in (0, 1], e.g. 0.01.")
    return scale


def scaled(profile: Profile, scale: float) -> Profile:
    """``profile`` with its sizes times ``scale`` (at least what the code needs: 10 users, 24
    items, 3 reviews per user and item, batches of 8, 16 tokens, 32 fine-tuning reviews, one
    epoch); its name, k-core, fine-tuning epochs, encoder and switches are kept."""
    if scale == 1:
        return profile
    users = max(10, round(profile.synthetic_users * scale))
    items = max(24, round(profile.synthetic_items * scale))
    return dataclasses.replace(
        profile, scale=scale, synthetic_users=users, synthetic_items=items,
        synthetic_reviews=max(4 * max(users, items), round(profile.synthetic_reviews * scale)),
        batch_size=max(8, round(profile.batch_size * scale)),
        max_seq_length=max(16, round(profile.max_seq_length * scale)),
        embedding_batch_size=max(8, round(profile.embedding_batch_size * scale)),
        epochs=max(1, round(profile.epochs * scale)),
        finetune_examples=max(32, round(profile.finetune_examples * scale)),
    )


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
    return _colab.badge_url(notebook_path)
