"""Quieting a library's logger for the span of a call."""

from __future__ import annotations

import contextlib
import logging


@contextlib.contextmanager
def quiet(logger: logging.Logger, level: int = logging.ERROR):
    """Raise ``logger``'s level to ``level`` inside the block, then restore it."""
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
