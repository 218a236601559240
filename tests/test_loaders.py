"""Amazon and MovieLens loaders on files the tests write, including malformed ones."""

import gzip
import json
import zipfile

import pytest

from textrec.data import schema
from textrec.data.amazon import load_amazon_reviews
from textrec.data.errors import DataError
from textrec.data.movielens import load_movielens

REVIEW_2014 = {
    "reviewerID": "A1", "asin": "B1", "reviewerName": "Ann", "helpful": [0, 0],
    "reviewText": "Great strings.", "overall": 5.0, "summary": "Great",
    "unixReviewTime": 1393545600, "reviewTime": "02 28, 2014",
}
REVIEW_2018 = {
    "overall": 2.0, "vote": "3", "verified": True, "reviewTime": "01 5, 2018",
    "reviewerID": "A2", "asin": "B2", "style": {"Size:": " Small"}, "reviewerName": "Bo",
    "reviewText": "Broke in a week.", "summary": "Meh", "unixReviewTime": 1515110400,
}


def write_lines(path, lines, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_reads_2014_and_2018_formats(tmp_path, gz):
    path = write_lines(tmp_path / ("r.json.gz" if gz else "r.json"),
                       [json.dumps(REVIEW_2014), json.dumps(REVIEW_2018)], gz=gz)
    frame, report = load_amazon_reviews(path)
    assert list(frame.columns) == list(schema.REVIEW_COLUMNS)
    assert frame[schema.USER].tolist() == ["A1", "A2"]
    assert frame[schema.RATING].tolist() == [5.0, 2.0]
    assert frame[schema.TIMESTAMP].tolist() == [1393545600, 1515110400]
    assert frame[schema.ORDER].tolist() == [0, 1]
    assert report.loaded == 2 and report.n_skipped == 0


def test_python_literal_lines_of_the_full_2014_files(tmp_path):
    path = write_lines(tmp_path / "r.json", [repr(REVIEW_2014)])
    frame, _ = load_amazon_reviews(path)
    assert frame[schema.TEXT].tolist() == ["Great strings."]


def test_bad_lines_are_counted_with_line_numbers(tmp_path):
    no_item = {k: v for k, v in REVIEW_2014.items() if k != "asin"}
    lines = [
        json.dumps(REVIEW_2014),                        # line 1: fine
        "{not json",                                    # line 2: malformed
        json.dumps(no_item),                            # line 3: missing asin
        json.dumps({**REVIEW_2014, "overall": 7}),      # line 4: impossible rating
        json.dumps({**REVIEW_2014, "overall": "abc"}),  # line 5: impossible rating
        "",                                             # line 6: blank, noted
        json.dumps([1, 2]),                             # line 7: not an object
        json.dumps({**REVIEW_2014, "reviewText": None}),  # line 8: kept, text read as empty
    ]
    frame, report = load_amazon_reviews(write_lines(tmp_path / "bad.json", lines))
    assert len(frame) == 2
    assert frame[schema.TEXT].tolist() == ["Great strings.", ""]
    assert report.skipped == {"malformed line": 2, "missing field": 1, "impossible rating": 2}
    assert [n for n, _ in report.examples["malformed line"]] == [2, 7]
    assert [n for n, _ in report.examples["impossible rating"]] == [4, 5]
    assert report.notes["missing reviewText read as empty"] == 1
    assert "line 3" in report.summary()


def test_strict_mode_raises_on_the_first_bad_line(tmp_path):
    path = write_lines(tmp_path / "bad.json", [json.dumps(REVIEW_2014), "{oops"])
    with pytest.raises(DataError, match=r"bad.json:2: malformed line"):
        load_amazon_reviews(path, strict=True)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        load_amazon_reviews(tmp_path / "nowhere.json")


def test_review_time_is_used_when_unix_time_is_missing(tmp_path):
    record = {k: v for k, v in REVIEW_2014.items() if k != "unixReviewTime"}
    frame, _ = load_amazon_reviews(write_lines(tmp_path / "r.json", [json.dumps(record)]))
    assert frame[schema.TIMESTAMP].tolist() == [1393545600]  # 2014-02-28 00:00 UTC


def test_movielens_100k_zip(tmp_path):
    path = tmp_path / "ml-100k.zip"
    flags = ["0"] * 19
    action = flags.copy()
    action[1] = "1"  # Action
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n2\t10\t1\t891717742\n")
        archive.writestr("ml-100k/u.item",
                         "10|Heat (1995)|01-Jan-1995||http://x|" + "|".join(action) + "\n")
    reviews, items = load_movielens(path)
    assert reviews[schema.RATING].tolist() == [4.0, 1.0]
    assert reviews[schema.TEXT].tolist() == ["", ""]
    assert items.loc[0, schema.CATEGORY] == "Action"
    assert items.loc[0, schema.DESCRIPTION] == "Heat (1995). Genres: Action"


def test_movielens_latest_small_zip(tmp_path):
    path = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-latest-small/ratings.csv",
                         "userId,movieId,rating,timestamp\n1,1,4.5,964982703\n")
        archive.writestr("ml-latest-small/movies.csv",
                         "movieId,title,genres\n1,Toy Story (1995),Animation|Children\n")
    reviews, items = load_movielens(path)
    assert reviews[schema.RATING].tolist() == [4.5]
    assert items.loc[0, schema.DESCRIPTION] == "Toy Story (1995). Genres: Animation, Children"


def test_movielens_zip_gets_a_load_report_not_generated_in_memory(tmp_path):
    from textrec.data.prepare import load_source

    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n2\t10\t1\t891717742\n")
        archive.writestr("ml-100k/u.item",
                         "10|Heat (1995)|01-Jan-1995||http://x|" + "|".join(["0"] * 19) + "\n")
    _, _, report, name = load_source(str(path))
    assert name == "ml-100k"
    assert report.summary().startswith(f"{path}: 2 lines, 2 reviews loaded, 0 skipped")
