"""Small hand-made review frames for the data tests."""

import pandas as pd

from textrec.data import schema

DAY = 86_400


def reviews(rows):
    """Build a reviews frame from (user, item, rating, text, day) tuples; order = row position."""
    return pd.DataFrame({
        schema.USER: [r[0] for r in rows],
        schema.ITEM: [r[1] for r in rows],
        schema.RATING: [float(r[2]) for r in rows],
        schema.TEXT: [r[3] for r in rows],
        schema.SUMMARY: ["" for _ in rows],
        schema.TIMESTAMP: [r[4] * DAY for r in rows],
        schema.ORDER: list(range(len(rows))),
    })
