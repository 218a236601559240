"""textrec: recommender systems that understand what users write.

Import ``textrec`` before TensorFlow. TensorFlow Recommenders needs the Keras 2 API
(``tf-keras``); importing this package sets ``TF_USE_LEGACY_KERAS=1`` so that ``tf.keras``
resolves to it, and checks the installed versions. It also keeps TensorFlow's start-up log
lines, transformers' deprecation notice and progress-bar clutter out of a learner's output
(see ``textrec._logging``; ``TEXTREC_SHOW_NATIVE_LOGS=1`` shows TensorFlow's native lines).
"""

import os as _os

if not _os.environ.get("TF_USE_LEGACY_KERAS"):
    _os.environ["TF_USE_LEGACY_KERAS"] = "1"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from textrec import _environment, _logging  # noqa: E402

_logging.install()
_environment.check_environment()

if _os.environ.get("TEXTREC_CHECK_FIGURES") == "1" and "IPython" in __import__("sys").modules:
    # Under tests (`make test`): every figure a notebook cell draws must pass
    # textrec.plotting.check_figure, or the cell fails.
    from textrec import plotting as _plotting

    _plotting.register_notebook_check()

__version__ = "0.1.0"

__all__ = ["__version__"]
