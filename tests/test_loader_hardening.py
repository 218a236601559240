"""The loaders on broken files (issue #16): cut or corrupt gzip, overflowing times, silent type
changes, stray carriage returns, MovieLens given as a folder or a ratings file."""

import gzip
import json

import pytest

from textrec.data import movielens, prepare, registry, schema
from textrec.data.amazon import load_amazon_reviews
from textrec.data.errors import DataError

REVIEW = {"reviewerID": "A1", "asin": "B1", "reviewText": "Great strings.", "overall": 5.0,
          "summary": "Great", "unixReviewTime": 1393545600}


def review(n: int, **changes) -> dict:
    return {**REVIEW, "reviewerID": f"A{n}", "reviewText": f"review number {n}", **changes}


def write_bytes(path, lines: list[bytes], gz=False):
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def json_line(record) -> bytes:
    return json.dumps(record).encode()


# -- truncated and corrupt gzip -------------------------------------------------------------------

def _big_gzip(tmp_path, n=400):
    # Random-looking text so that the compressed stream is long enough to cut in the middle.
    lines = [json_line(review(i, reviewText=f"{i * 7919 % 10007} tone {i ** 3 % 9973} hum"))
             for i in range(n)]
    return write_bytes(tmp_path / "r.json.gz", lines, gz=True), n


def test_a_truncated_gzip_keeps_the_reviews_before_the_cut(tmp_path):
    path, n = _big_gzip(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    frame, report = load_amazon_reviews(path)
    kept = len(frame)
    assert 0 < kept < n
    # What was kept is exactly the first lines of the file, in order.
    assert frame[schema.USER].tolist() == [f"A{i}" for i in range(kept)]
    assert report.incomplete and f"after line {kept:,}" in report.incomplete
    assert report.skipped == {"unreadable rest of the file": 1}
    assert report.examples["unreadable rest of the file"][0][0] == kept + 1
    assert "INCOMPLETE" in report.summary() and "EOFError" in report.summary()
    with pytest.raises(DataError, match=rf"r\.json\.gz: cannot read past line {kept} \(the last "
                                        r"complete line\)"):
        load_amazon_reviews(path, strict=True)


def test_a_corrupt_gzip_says_where_reading_stopped(tmp_path):
    path, n = _big_gzip(tmp_path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)       # 64 zero bytes in the deflate stream
    path.write_bytes(bytes(data))
    frame, report = load_amazon_reviews(path)
    assert len(frame) < n and report.incomplete
    assert report.n_skipped >= 1
    with pytest.raises(DataError, match="r.json.gz: cannot read past line"):
        load_amazon_reviews(path, strict=True)


def test_a_gzip_header_with_nothing_after_it(tmp_path):
    path = tmp_path / "empty.json.gz"
    path.write_bytes(b"\x1f\x8b")
    frame, report = load_amazon_reviews(path)
    assert frame.empty and "after line 0" in report.incomplete


# -- values that used to pass or abort the load ---------------------------------------------------

def test_an_overflowing_time_is_a_counted_skip_and_the_load_goes_on(tmp_path):
    lines = [json_line(review(1)),
             b'{"reviewerID": "A2", "asin": "B1", "overall": 4, "unixReviewTime": 1e20}',
             b'{"reviewerID": "A3", "asin": "B1", "overall": 4, "unixReviewTime": Infinity}',
             json_line(review(4, unixReviewTime=True)),
             json_line(review(5, unixReviewTime=-5)),
             json_line(review(6, unixReviewTime=1393545600.75)),
             json_line(review(7, unixReviewTime="1393545600")),
             json_line(review(8))]
    frame, report = load_amazon_reviews(write_bytes(tmp_path / "r.json", lines))
    assert frame[schema.USER].tolist() == ["A1", "A6", "A7", "A8"]
    assert frame[schema.TIMESTAMP].tolist() == [1393545600] * 4        # 0.75 s rounded down
    assert report.skipped == {"bad time": 4}
    assert [n for n, _ in report.examples["bad time"]] == [2, 3, 4, 5]
    assert "1e+20" in report.examples["bad time"][0][1]
    assert report.note_examples["fractional unixReviewTime rounded down"] == [(6, "1393545600.75")]
    assert report.note_examples["unixReviewTime given as text, read as a number"] == [(7, "")]
    with pytest.raises(DataError, match=r"r.json:2: bad time"):
        load_amazon_reviews(tmp_path / "r.json", strict=True)


def test_wrong_types_are_skipped_or_noted_with_their_line(tmp_path):
    lines = [json_line(review(1, overall=True)),                 # 1: a boolean rating
             json_line(review(2, asin={"id": "B1"})),            # 2: a dict id
             json_line(review(3, reviewerID=["A3"])),            # 3: a list id
             json_line(review(4, reviewText={"t": 1})),          # 4: an object as text
             json_line(review(5, overall="4")),                  # 5: kept, noted
             json_line(review(6, asin=1234)),                    # 6: kept, noted
             json_line(review(7, summary=3.5)),                  # 7: kept, noted
             json_line(review(8, overall=None))]                 # 8: missing
    frame, report = load_amazon_reviews(write_bytes(tmp_path / "r.json", lines))
    assert frame[schema.USER].tolist() == ["A5", "A6", "A7"]
    assert frame[schema.RATING].tolist() == [4.0, 5.0, 5.0]
    assert frame[schema.ITEM].tolist() == ["B1", "1234", "B1"]
    assert frame[schema.SUMMARY].tolist() == ["Great", "Great", "3.5"]
    assert report.skipped == {"impossible rating": 1, "bad field": 3, "missing field": 1}
    assert report.examples["impossible rating"] == [(1, "rating true is not a number")]
    assert [n for n, _ in report.examples["bad field"]] == [2, 3, 4]
    assert "asin is dict" in report.examples["bad field"][0][1]
    assert report.note_examples["rating given as text, read as a number"] == [(5, "")]
    assert report.note_examples["asin given as a number, read as text"] == [(6, "")]
    assert report.note_examples["summary given as a number, read as text"] == [(7, "")]
    assert "line 5" in report.summary()


def test_bytes_that_are_not_utf8_are_a_noted_repair(tmp_path):
    bad = json_line(review(2)).replace(b"review number 2", b"caf\xe9 review")   # Latin-1 e-acute
    frame, report = load_amazon_reviews(write_bytes(tmp_path / "r.json",
                                                    [json_line(review(1)), bad]))
    assert frame[schema.TEXT].tolist() == ["review number 1", "caf\ufffd review"]
    (line, detail), = report.note_examples["bytes that are not UTF-8 replaced by U+FFFD"]
    assert line == 2 and "0xe9" in detail


def test_a_raw_carriage_return_does_not_split_the_line_or_shift_line_numbers(tmp_path):
    with_return = json_line(review(1)).replace(b"review number 1", b"first part\rsecond part")
    lines = [with_return,                            # 1: one review, its text keeps the \r
             b"{broken",                             # 2: malformed, and numbered 2
             json_line(review(3))]                   # 3
    path = write_bytes(tmp_path / "r.json", lines)
    for loaded in (path, write_bytes(tmp_path / "r.json.gz", lines, gz=True)):
        frame, report = load_amazon_reviews(loaded)
        assert frame[schema.TEXT].tolist() == ["first part\rsecond part", "review number 3"]
        assert frame[schema.ORDER].tolist() == [0, 2]
        assert report.lines == 3 and report.skipped == {"malformed line": 1}
        assert report.examples["malformed line"][0][0] == 2
        assert [n for n, _ in report.note_examples[
            "raw control characters (e.g. a carriage return) kept inside a string"]] == [1]


def test_windows_line_endings_are_read_as_plain_lines(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(json_line(review(1)) + b"\r\n" + json_line(review(2)) + b"\r\n")
    frame, report = load_amazon_reviews(path)
    assert frame[schema.TEXT].tolist() == ["review number 1", "review number 2"]
    assert report.n_skipped == 0 and not report.notes


def test_a_folder_given_as_the_review_file_says_what_is_expected(tmp_path):
    with pytest.raises(DataError, match="is a folder; give the review file inside it"):
        load_amazon_reviews(tmp_path)


# -- MovieLens as a folder or a ratings file ------------------------------------------------------

def _ml100k_folder(root):
    folder = root / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t10\t4\t881250949\n2\t10\t1\t891717742\n")
    action = ["0"] * 19
    action[1] = "1"
    (folder / "u.item").write_text("10|Heat (1995)|01-Jan-1995||http://x|" + "|".join(action)
                                   + "\n", encoding="latin-1")
    return folder


def _ml_latest_folder(root):
    folder = root / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,964982703\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n")
    return folder


@pytest.mark.parametrize("make, ratings_file, expected_ratings",
                         [(_ml100k_folder, "u.data", [4.0, 1.0]),
                          (_ml_latest_folder, "ratings.csv", [4.5])])
def test_movielens_folder_parent_and_ratings_file_all_load(tmp_path, make, ratings_file,
                                                           expected_ratings):
    folder = make(tmp_path)
    for given in (folder, tmp_path, folder / ratings_file):
        assert movielens.is_movielens(given)
        reviews, items = movielens.load_movielens(given)
        assert reviews[schema.RATING].tolist() == expected_ratings
        assert len(items) == 1
        loaded, _, report, name = prepare.load_source(str(given))
        assert loaded[schema.RATING].tolist() == expected_ratings
        # every rating line loaded, and said so (not "generated in memory")
        assert report.loaded == report.lines == len(expected_ratings)
        assert name in (folder.name, tmp_path.name)


def test_movielens_says_exactly_what_is_missing(tmp_path):
    folder = _ml100k_folder(tmp_path)
    (folder / "u.item").unlink()
    with pytest.raises(DataError, match=r"u.data: u.item is missing beside it"):
        movielens.load_movielens(folder / "u.data")
    (folder / "u.data").unlink()
    with pytest.raises(DataError, match="no u.data or ratings.csv in this folder or one below"):
        movielens.load_movielens(folder)
    other = tmp_path / "ratings.txt"
    other.write_text("1\t2\t3\t4\n")
    with pytest.raises(DataError, match="expected MovieLens data: the ml-100k or ml-latest-small"):
        movielens.load_movielens(other)
    (tmp_path / "other").mkdir()
    latest = _ml_latest_folder(tmp_path / "other")
    (latest / "ratings.csv").write_text("user,item,stars\n1,1,4\n")
    with pytest.raises(DataError, match=r"ratings.csv has columns \['user', 'item', 'stars'\]"):
        movielens.load_movielens(latest)
    (latest / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,x,5\n")
    with pytest.raises(DataError, match="row 1 is not four numbers"):
        movielens.load_movielens(latest)


def test_a_ratings_file_under_another_name_gets_a_hint_not_just_skips(tmp_path):
    path = tmp_path / "my_ratings.tsv"
    path.write_text("".join(f"{u}\t{u + 10}\t4\t88125094{u}\n" for u in range(5)))
    with pytest.raises(ValueError, match="no valid review was read. textrec reads Amazon review "
                                         r"files .*MovieLens data: the ml-100k"):
        prepare.load_source(str(path))


def test_the_registry_finds_movielens_unzipped_in_place():
    target = registry.local_path("movielens-100k")
    target.parent.mkdir(parents=True, exist_ok=True)
    _ml100k_folder(target.parent)
    assert registry.fetch("movielens-100k", download=False) == target.parent / "ml-100k"
