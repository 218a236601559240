"""The download registry, without downloading anything."""

import hashlib

import pytest

from textrec.data import registry


def test_registry_lists_amazon_and_movielens():
    assert "amazon-2014-Musical_Instruments" in registry.REGISTRY
    assert "amazon-2018-Musical_Instruments" in registry.REGISTRY
    assert {"movielens-100k", "movielens-latest-small"} <= set(registry.REGISTRY)
    entry = registry.REGISTRY["amazon-2014-Musical_Instruments"]
    assert entry.url.endswith("reviews_Musical_Instruments_5.json.gz")
    assert entry.sha256 == "03f9cc27ae13a454cb4ea6cb620fb10546cc1194ef921441d1c5f34addff2748"


def test_offline_error_says_where_to_put_the_file(monkeypatch):
    monkeypatch.setenv("TEXTREC_OFFLINE", "1")
    with pytest.raises(registry.DownloadError) as error:
        registry.fetch("movielens-100k")
    message = str(error.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message
    assert str(registry.local_path("movielens-100k")) in message


def test_unknown_name_suggests_close_ones():
    with pytest.raises(KeyError, match="movielens-100k"):
        registry.get_entry("100k")


def test_known_checksum_is_verified():
    path = registry.local_path("amazon-2014-Musical_Instruments")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the real file")
    with pytest.raises(registry.DownloadError, match="damaged"):
        registry.fetch("amazon-2014-Musical_Instruments", download=False)


def test_unknown_checksum_is_trusted_on_first_use_then_checked():
    path = registry.local_path("movielens-100k")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"first")
    assert registry.fetch("movielens-100k", download=False) == path
    recorded = path.with_name(path.name + ".sha256").read_text().strip()
    assert recorded == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"changed later")
    with pytest.raises(registry.DownloadError):
        registry.fetch("movielens-100k", download=False)
