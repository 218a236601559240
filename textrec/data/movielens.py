"""MovieLens loaders (ml-100k and ml-latest-small zips from the registry).

MovieLens has ratings but no review text: the reviews frame has empty ``text`` and
``summary``, and the items frame carries each movie's title and genres, which the text
lessons use as the item's text.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from textrec.data import schema
from textrec.data.errors import DataError

_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)


def _member(archive: zipfile.ZipFile, suffix: str) -> str:
    for name in archive.namelist():
        if name.endswith(suffix):
            return name
    raise DataError(f"{archive.filename}: no member ending in {suffix!r}; is it a MovieLens zip?")


def _finish(ratings: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = ratings.astype({schema.USER: str, schema.ITEM: str})
    ratings[schema.RATING] = ratings[schema.RATING].astype("float32")
    ratings[schema.TEXT] = ""
    ratings[schema.SUMMARY] = ""
    ratings[schema.ORDER] = range(len(ratings))
    items = items.astype({schema.ITEM: str})
    items[schema.DESCRIPTION] = items[schema.TITLE] + ". Genres: " + items[schema.CATEGORY].str.replace("|", ", ")
    return ratings[list(schema.REVIEW_COLUMNS)], items[list(schema.ITEM_COLUMNS)]


def load_movielens(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load ``ml-100k.zip`` or ``ml-latest-small.zip`` into (reviews, items) frames."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens zip not found: {path}")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if any(name.endswith("u.data") for name in names):
            ratings = pd.read_csv(
                io.BytesIO(archive.read(_member(archive, "u.data"))), sep="\t",
                names=[schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP])
            raw = pd.read_csv(
                io.BytesIO(archive.read(_member(archive, "u.item"))), sep="|", header=None,
                encoding="latin-1")
            genres = raw.iloc[:, 5:5 + len(_ML100K_GENRES)].to_numpy()
            items = pd.DataFrame({
                schema.ITEM: raw[0],
                schema.TITLE: raw[1].astype(str),
                schema.CATEGORY: ["|".join(g for g, on in zip(_ML100K_GENRES, row) if on) or "unknown"
                                  for row in genres],
            })
        elif any(name.endswith("ratings.csv") for name in names):
            ratings = pd.read_csv(io.BytesIO(archive.read(_member(archive, "ratings.csv"))))
            ratings.columns = [schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP]
            movies = pd.read_csv(io.BytesIO(archive.read(_member(archive, "movies.csv"))))
            items = pd.DataFrame({schema.ITEM: movies["movieId"], schema.TITLE: movies["title"],
                                  schema.CATEGORY: movies["genres"]})
        else:
            raise DataError(f"{path}: neither u.data (ml-100k) nor ratings.csv (ml-latest) inside.")
    return _finish(ratings, items)
