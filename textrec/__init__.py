"""textrec: recommender systems that understand what users write.

Import ``textrec`` before TensorFlow. TensorFlow Recommenders needs the Keras 2 API
(``tf-keras``); importing this package sets ``TF_USE_LEGACY_KERAS=1`` so that ``tf.keras``
resolves to it, and checks the installed versions.
"""

import os as _os

if not _os.environ.get("TF_USE_LEGACY_KERAS"):
    _os.environ["TF_USE_LEGACY_KERAS"] = "1"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from textrec import _environment  # noqa: E402

_environment.check_environment()

__version__ = "0.1.0"

__all__ = ["__version__"]
