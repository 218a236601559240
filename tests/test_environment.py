"""import textrec's environment checks and the profile/path configuration."""

import os
import subprocess
import sys

import pytest

from textrec import _environment, config


def run_python(code, **env):
    environment = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120)


def test_import_sets_legacy_keras_so_tf_keras_is_keras_2():
    result = run_python(
        "import os; os.environ.pop('TF_USE_LEGACY_KERAS', None)\n"
        "import textrec, tensorflow as tf\n"
        "print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.layers.Dense.__module__)")
    assert result.returncode == 0, result.stderr
    flag, module = result.stdout.split()
    assert flag == "1" and module.startswith("tf_keras.")


def test_tensorflow_first_fails_with_the_fix():
    result = run_python("import tensorflow\nimport textrec", TF_USE_LEGACY_KERAS=None)
    assert result.returncode != 0
    assert "import textrec` before `import tensorflow`" in result.stderr


def test_wrong_legacy_keras_setting_is_named():
    result = run_python("import textrec", TF_USE_LEGACY_KERAS="0")
    assert "TF_USE_LEGACY_KERAS is set to '0'" in result.stderr


def test_version_problems_name_the_fix(monkeypatch):
    from packaging.version import Version

    fake = {"tensorflow": Version("2.19.0"), "tf-keras": None,
            "tensorflow-recommenders": Version("0.7.7"), "transformers": Version("5.1.0")}
    monkeypatch.setattr(_environment, "installed_version", fake.get)
    problems = _environment.version_problems()
    assert any("pip install 'tf-keras==2.19.*'" in p for p in problems)
    assert any("transformers 5.1.0 is outside" in p for p in problems)

    fake["tf-keras"], fake["transformers"] = Version("2.21.0"), Version("4.57.6")
    assert any("does not match tensorflow 2.19.0" in p for p in _environment.version_problems())
    fake["tf-keras"] = Version("2.19.1")
    assert _environment.version_problems() == []


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEXTREC_PROFILE", "full")
    assert config.get_profile().name == "full"
    assert config.get_profile().synthetic_users >= 2000
    monkeypatch.setenv("TEXTREC_PROFILE", "quick")
    assert config.get_profile().synthetic_reviews < config.PROFILES["full"].synthetic_reviews
    monkeypatch.setenv("TEXTREC_PROFILE", "huge")
    with pytest.raises(ValueError, match="quick, full"):
        config.get_profile()


def test_profile_defaults_to_quick_without_a_gpu(monkeypatch):
    monkeypatch.delenv("TEXTREC_PROFILE")
    monkeypatch.setattr(config, "gpu_visible", lambda: False)
    assert config.profile_name() == "quick"
    monkeypatch.setattr(config, "gpu_visible", lambda: True)
    assert config.profile_name() == "full"


def test_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTREC_HOME", str(tmp_path))
    assert config.data_dir() == tmp_path / "data"
    assert config.model_cache_dir() == tmp_path / ".cache" / "models"
    monkeypatch.setenv("TEXTREC_REPORTS", str(tmp_path / "r"))
    assert config.reports_dir() == tmp_path / "r"
    assert config.data_source() == "synthetic"
    monkeypatch.setenv("TEXTREC_DATA", "/some/file.json.gz")
    assert config.data_source() == "/some/file.json.gz"


def test_seeds_make_numpy_and_tensorflow_repeatable():
    import numpy as np
    import tensorflow as tf

    config.set_seeds(7)
    first = (np.random.rand(3), tf.random.uniform([3]).numpy())
    config.set_seeds(7)
    second = (np.random.rand(3), tf.random.uniform([3]).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
