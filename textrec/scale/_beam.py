"""``import apache_beam`` without its import-time warnings about connectors the course does not
use (MongoDB's bson, Google's apitools): Beam logs them at WARNING, one of them through the root
logger, which would also configure Python's logging as a side effect."""

from __future__ import annotations

import logging

_NOISY = ("apache_beam.io.mongodbio",)


def _import():
    root = logging.getLogger()
    placeholder = None
    if not root.handlers:   # logging.warning() would call basicConfig() and print
        placeholder = logging.NullHandler()
        root.addHandler(placeholder)
    saved = {name: logging.getLogger(name).level for name in ("", *_NOISY)}
    for name in saved:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import apache_beam
    except ImportError:
        raise ImportError(
            "lesson 11's embedding job needs Apache Beam: pip install --no-deps -r "
            "requirements/scale.txt (`make install` does; on Colab the lesson's first cell "
            "does)") from None
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        if placeholder is not None:
            root.removeHandler(placeholder)
    return apache_beam


beam = _import()


def _no_interactive_labels(transform, pvalueish):
    """In a notebook, Beam prefixes each transform's label with the cell number for its
    interactive runner, and to do so imports its interactive mode and, through it, its DataFrame
    API, which fails on pandas 3 (Beam declares pandas<2.4 for it). The course runs pipelines
    with the ordinary runners, so the labels stay as written."""


beam.pipeline.alter_label_if_ipython = _no_interactive_labels
