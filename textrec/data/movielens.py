"""MovieLens loaders: ml-100k and ml-latest-small, as the registry's zip, the extracted folder
(``ml-100k/`` or ``ml-latest-small/``, or a folder holding one of them) or the ratings file
itself (``u.data`` with ``u.item`` beside it; ``ratings.csv`` with ``movies.csv`` beside it).
Anything else raises :class:`~textrec.data.errors.DataError` saying what is expected.

MovieLens has ratings but no review text: the reviews frame has empty ``text`` and
``summary``, and the items frame carries each movie's title and genres, which the text
lessons use as the item's text.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from textrec.data import schema
from textrec.data.errors import DataError

_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
RATINGS_FILES = ("u.data", "ratings.csv")      # ml-100k, ml-latest(-small)
EXPECTED = ("MovieLens data: the ml-100k or ml-latest-small zip, its extracted folder, or the "
            "ratings file u.data (with u.item beside it) or ratings.csv (with movies.csv beside "
            "it)")


def _ratings_in_folder(folder: Path) -> Path | None:
    """``folder/u.data`` or ``folder/ratings.csv``, also one folder down (``ml-100k/``)."""
    for pattern in (*RATINGS_FILES, *(f"*/{name}" for name in RATINGS_FILES)):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def is_movielens(path: str | Path) -> bool:
    """Whether ``path`` is a MovieLens source :func:`load_movielens` reads (by its name or, for a
    folder, the ratings file in it)."""
    path = Path(path)
    if path.is_dir():
        return _ratings_in_folder(path) is not None
    return path.suffix == ".zip" or path.name in RATINGS_FILES


def _zip_reader(path: Path) -> tuple[str, Callable[[str], bytes]]:
    """(the ratings file's name, a reader of the members by file name) of a MovieLens zip."""
    archive = zipfile.ZipFile(path)
    names = archive.namelist()

    def read(filename: str) -> bytes:
        for name in names:
            if name == filename or name.endswith("/" + filename):
                return archive.read(name)
        raise DataError(f"{path}: no {filename} inside; expected {EXPECTED}")

    for ratings in RATINGS_FILES:
        if any(name == ratings or name.endswith("/" + ratings) for name in names):
            return ratings, read
    raise DataError(f"{path}: neither u.data (ml-100k) nor ratings.csv (ml-latest) inside; "
                    f"expected {EXPECTED}")


def _folder_reader(ratings_path: Path) -> tuple[str, Callable[[str], bytes]]:
    folder = ratings_path.parent

    def read(filename: str) -> bytes:
        target = folder / filename
        if not target.is_file():
            raise DataError(f"{ratings_path}: {filename} is missing beside it (MovieLens keeps "
                            f"the movies there); expected {EXPECTED}")
        return target.read_bytes()

    return ratings_path.name, read


def _read_table(data: bytes, where: str, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(data), **options)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not a MovieLens table ({type(exc).__name__}: "
                        f"{str(exc)[:120]}); expected {EXPECTED}") from None


def _check_ratings(ratings: pd.DataFrame, where: str) -> None:
    numeric = ratings.apply(lambda column: pd.to_numeric(column, errors="coerce"))
    bad = numeric.isna().any(axis=1)
    if len(ratings) == 0 or bad.any():
        row = int(bad.to_numpy().argmax()) if bad.any() else None
        raise DataError(f"{where}: " + (f"row {row + 1} is not four numbers (user, item, rating, "
                                        "time)" if row is not None else "no ratings")
                        + f"; expected {EXPECTED}")


def _ml100k(read: Callable[[str], bytes], where: str):
    ratings = _read_table(read("u.data"), where, sep="\t", header=None,
                          names=[schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP])
    _check_ratings(ratings, where)
    raw = _read_table(read("u.item"), where, sep="|", header=None, encoding="latin-1")
    genres = raw.iloc[:, 5:5 + len(_ML100K_GENRES)].to_numpy()
    items = pd.DataFrame({
        schema.ITEM: raw[0],
        schema.TITLE: raw[1].astype(str),
        schema.CATEGORY: ["|".join(g for g, on in zip(_ML100K_GENRES, row) if on) or "unknown"
                          for row in genres],
    })
    return ratings, items


def _ml_latest(read: Callable[[str], bytes], where: str):
    ratings = _read_table(read("ratings.csv"), where)
    expected = ["userId", "movieId", "rating", "timestamp"]
    if list(ratings.columns) != expected:
        raise DataError(f"{where}: ratings.csv has columns {list(ratings.columns)}, expected "
                        f"{expected}")
    ratings.columns = [schema.USER, schema.ITEM, schema.RATING, schema.TIMESTAMP]
    _check_ratings(ratings, where)
    movies = _read_table(read("movies.csv"), where)
    items = pd.DataFrame({schema.ITEM: movies["movieId"], schema.TITLE: movies["title"],
                          schema.CATEGORY: movies["genres"]})
    return ratings, items


def _finish(ratings: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = ratings.astype({schema.USER: str, schema.ITEM: str})
    ratings[schema.RATING] = ratings[schema.RATING].astype("float32")
    ratings[schema.TEXT] = ""
    ratings[schema.SUMMARY] = ""
    ratings[schema.ORDER] = range(len(ratings))
    items = items.astype({schema.ITEM: str})
    items[schema.DESCRIPTION] = (items[schema.TITLE] + ". Genres: "
                                 + items[schema.CATEGORY].str.replace("|", ", "))
    return ratings[list(schema.REVIEW_COLUMNS)], items[list(schema.ITEM_COLUMNS)]


def load_movielens(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load MovieLens (see the module docstring for the forms of ``path``) into (reviews,
    items) frames."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MovieLens data not found: {path}; expected {EXPECTED}")
    if path.is_dir():
        ratings_path = _ratings_in_folder(path)
        if ratings_path is None:
            raise DataError(f"{path}: no u.data or ratings.csv in this folder or one below; "
                            f"expected {EXPECTED}")
        name, read = _folder_reader(ratings_path)
    elif zipfile.is_zipfile(path):
        name, read = _zip_reader(path)
    elif path.name in RATINGS_FILES:
        name, read = _folder_reader(path)
    else:
        raise DataError(f"{path}: not a zip, a folder, u.data or ratings.csv; expected "
                        f"{EXPECTED}")
    ratings, items = (_ml100k if name == "u.data" else _ml_latest)(read, str(path))
    return _finish(ratings, items)
