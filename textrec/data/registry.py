"""Download registry for learners who are online: Amazon 5-core review files and MovieLens.

Each entry has a URL, a file name and, where the publisher's file is known to the course, its
sha256. Files land in ``config.data_dir()/raw/``. An entry without a published checksum is
checked "trust on first use": the sha256 of the first download is recorded beside the file and
every later use is compared with it.

Offline (or when the download fails) :class:`DownloadError` says which file to put where.
Nothing in the test suite downloads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from textrec import config

AMAZON_2014_CATEGORIES = (
    "Amazon_Instant_Video", "Apps_for_Android", "Automotive", "Baby", "Beauty", "Books",
    "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry",
    "Digital_Music", "Electronics", "Grocery_and_Gourmet_Food", "Health_and_Personal_Care",
    "Home_and_Kitchen", "Kindle_Store", "Movies_and_TV", "Musical_Instruments",
    "Office_Products", "Patio_Lawn_and_Garden", "Pet_Supplies", "Sports_and_Outdoors",
    "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
)
AMAZON_2018_CATEGORIES = (
    "AMAZON_FASHION", "All_Beauty", "Appliances", "Arts_Crafts_and_Sewing", "Automotive",
    "Books", "CDs_and_Vinyl", "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry",
    "Digital_Music", "Electronics", "Gift_Cards", "Grocery_and_Gourmet_Food",
    "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store", "Luxury_Beauty",
    "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Prime_Pantry", "Software", "Sports_and_Outdoors",
    "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
)
_AMAZON_2014_URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_{}_5.json.gz"
_AMAZON_2018_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/{}_5.json.gz"
_MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/{}.zip"

# Checksums the course knows; others are trusted on first use (see the module docstring).
_KNOWN_SHA256 = {
    "amazon-2014-Musical_Instruments":
        "03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748",
}


@dataclasses.dataclass(frozen=True)
class DatasetFile:
    """One downloadable file."""

    name: str  # registry key, e.g. "amazon-2014-Musical_Instruments" or "movielens-100k"
    url: str
    filename: str
    sha256: str | None
    kind: str  # "amazon" or "movielens"
    description: str


def _build_registry() -> dict[str, DatasetFile]:
    entries = {}
    for release, categories, url, prefix in (
        ("2014", AMAZON_2014_CATEGORIES, _AMAZON_2014_URL, "reviews_"),
        ("2018", AMAZON_2018_CATEGORIES, _AMAZON_2018_URL, ""),
    ):
        for category in categories:
            name = f"amazon-{release}-{category}"
            entries[name] = DatasetFile(
                name=name, url=url.format(category),
                filename=(f"{prefix}{category}_5.json.gz" if release == "2014"
                          else f"{category}_5_2018.json.gz"),
                sha256=_KNOWN_SHA256.get(name), kind="amazon",
                description=f"Amazon {release} 5-core reviews: {category.replace('_', ' ')}",
            )
    for short, folder in (("100k", "ml-100k"), ("latest-small", "ml-latest-small")):
        name = f"movielens-{short}"
        entries[name] = DatasetFile(
            name=name, url=_MOVIELENS_URL.format(folder), filename=f"{folder}.zip",
            sha256=None, kind="movielens", description=f"MovieLens {short} ratings (GroupLens)",
        )
    return entries


REGISTRY = _build_registry()


class DownloadError(RuntimeError):
    """A data file could not be fetched; the message says where to put it by hand."""


def sha256_of(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_entry(name: str) -> DatasetFile:
    if name not in REGISTRY:
        close = [key for key in REGISTRY if name.lower() in key.lower()][:5]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"no data set called {name!r} in the registry.{hint}")
    return REGISTRY[name]


def local_path(name: str) -> Path:
    """Where the registry keeps (or expects) the file for ``name``."""
    return config.data_dir() / "raw" / get_entry(name).filename


def _verify(entry: DatasetFile, path: Path) -> None:
    actual = sha256_of(path)
    record = path.with_name(path.name + ".sha256")
    expected = entry.sha256 or (record.read_text().strip() if record.is_file() else None)
    if expected is None:
        record.write_text(actual + "\n")  # trust on first use
    elif actual != expected:
        raise DownloadError(
            f"{path} has sha256 {actual}, expected {expected}: the file is damaged or not the "
            f"published one. Delete it and fetch it again from {entry.url}."
        )


def fetch(name: str, download: bool = True, progress: bool = True) -> Path:
    """The local path of data set ``name``, downloading it once when it is missing.

    With ``download=False`` (or offline) a missing file raises :class:`DownloadError` that
    names the URL and the path to put the file at.
    """
    entry = get_entry(name)
    path = local_path(name)
    if path.is_file():
        _verify(entry, path)
        return path
    extracted = path.with_suffix("")      # MovieLens unzipped in place: raw/ml-100k/
    if entry.kind == "movielens" and extracted.is_dir():
        return extracted
    where = (f"Download {entry.url} on a machine with internet access and put it at {path} "
             f"(or point TEXTREC_DATA at the file).")
    if not download or os.environ.get("TEXTREC_OFFLINE") == "1":
        raise DownloadError(f"{entry.description} is not in the local cache. {where}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(entry.url, path, progress=progress)
    except OSError as exc:
        raise DownloadError(f"could not download {entry.url} ({exc}). {where}") from exc
    _verify(entry, path)
    return path


def _download(url: str, path: Path, progress: bool) -> None:
    from textrec._logging import progress_bar as tqdm

    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            with tqdm(total=total, unit="B", unit_scale=True, desc=path.name,
                      disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    tmp.write(chunk)
                    bar.update(len(chunk))
    shutil.move(tmp.name, path)
