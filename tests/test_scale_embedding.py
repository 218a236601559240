"""Lesson 11's embedding job: review shards, the per-user cleaning, the vector files, and the
Beam job's output equal to the in-process reference on a small folder of files."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from textrec.data import schema
from textrec.data.errors import DataError
from textrec.scale import embedding, sources, vector_files

# Eight made-up reviews in the Amazon format. u1 reviews i1 twice (the later copy is removed),
# u2 posts the same text on two items four days apart (the repost is removed), u3's text holds
# an e-mail address (scrubbed), u4 wrote nothing (kept, a zero vector, no interest vector).
DAY = 86_400
REVIEWS = [
    ("u1", "i1", 5, "Great little amp for practice at home.", 1_400_000_000),
    ("u1", "i2", 4, "Strings sound bright and stay in tune.", 1_400_000_000 + DAY),
    ("u1", "i1", 3, "Second review of the same amp.", 1_400_000_000 + 2 * DAY),
    ("u2", "i2", 2, "Broke after a week, returned it.", 1_400_000_000),
    ("u2", "i3", 2, "Broke after a week, returned it.", 1_400_000_000 + 4 * DAY),
    ("u3", "i3", 5, "Write me at jane.doe@example.com about this pedal.", 1_400_000_000),
    ("u3", "i1", 4, "A warm overdrive that keeps the pick attack.", 1_400_000_000 + DAY),
    ("u4", "i2", 4, "", 1_400_000_000),
]


def _amazon(user, item, stars, text, time):
    return {"reviewerID": user, "asin": item, "overall": stars, "reviewText": text,
            "summary": text[:12], "unixReviewTime": time}


@pytest.fixture
def review_folder(tmp_path):
    """Three shards: JSON lines (with a broken line), gzipped JSON lines, and Parquet in the
    course's columns."""
    folder = tmp_path / "reviews"
    folder.mkdir()
    rows = [_amazon(*review) for review in REVIEWS]
    (folder / "part-0.json").write_text(
        "\n".join(json.dumps(row) for row in rows[:3]) + "\n{not json\n")
    with gzip.open(folder / "part-1.json.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(row) for row in rows[3:6]) + "\n")
    last = REVIEWS[6:]
    pd.DataFrame({schema.USER: [r[0] for r in last], schema.ITEM: [r[1] for r in last],
                  schema.RATING: [float(r[2]) for r in last], schema.TEXT: [r[3] for r in last],
                  schema.SUMMARY: "", schema.TIMESTAMP: [r[4] for r in last]}).to_parquet(
        folder / "part-2.parquet", index=False)
    (folder / "notes.txt").write_text("not a review file")
    return folder


def test_review_files_lists_the_shards_and_reads_each_with_the_loader(review_folder):
    files = sources.review_files(review_folder)
    assert [f.name for f in files] == ["part-0.json", "part-1.json.gz", "part-2.parquet"]
    assert sources.review_files(review_folder / "part-*.json*") == files[:2]
    reports, reviews = [], []
    for path in files:
        report = sources.LoadReport(source=path.name)
        reviews += list(sources.iter_file_reviews(path, report))
        reports.append(report)
    assert len(reviews) == len(REVIEWS)
    assert reports[0].skipped == {"malformed line": 1} and reports[0].lines == 4
    parquet = [r for r in reviews if r[sources.SOURCE] == "part-2.parquet"]
    assert [r[schema.ORDER] for r in parquet] == [0, 1]        # the row stands for the line
    assert parquet[1][schema.TEXT] == "" and parquet[0][schema.RATING] == 4.0


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(DataError, match="no review files"):
        sources.review_files(tmp_path)
    pd.DataFrame({"who": ["u1"], "what": ["i1"]}).to_parquet(tmp_path / "odd.parquet")
    with pytest.raises(DataError, match=r"odd.parquet.*needs the Amazon fields.*\['what', 'who'\]"):
        list(sources.iter_file_reviews(tmp_path / "odd.parquet"))


def test_cleaning_user_by_user_equals_cleaning_everything(review_folder):
    rows = [r for path in sources.review_files(review_folder)
            for r in sources.iter_file_reviews(path)]
    frame = embedding.review_frame(rows)
    everything, cleaning, scrubbing = embedding.prepare_reviews(frame)
    by_user = pd.concat([embedding.prepare_reviews(group)[0]
                         for _, group in frame.groupby(schema.USER)])
    key = [sources.SOURCE, schema.ORDER]
    pd.testing.assert_frame_equal(everything.sort_values(key).reset_index(drop=True),
                                  by_user.sort_values(key).reset_index(drop=True))
    # 8 reviews: u1's second i1 review and u2's repost go; u3's e-mail is scrubbed.
    assert len(everything) == 6 and cleaning.rows_in - cleaning.rows_out == 2
    assert scrubbing.counts["EMAIL"] == 1
    assert "[EMAIL]" in everything.loc[everything[schema.USER] == "u3", schema.TEXT].iloc[0]


def test_vector_files_round_trip(tmp_path):
    reviews = pd.DataFrame({sources.SOURCE: ["b.json", "a.json", "a.json"], schema.ORDER: [0, 1, 0],
                            schema.USER: ["u2", "u1", "u1"], schema.ITEM: ["i1", "i2", "i1"],
                            schema.RATING: [5.0, 4.0, 3.0], schema.TIMESTAMP: [3, 2, 1],
                            vector_files.HAS_TEXT: [True, True, False]})
    vectors = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 0.0]], np.float32)
    users = vector_files.TextVectors(np.array(["u1", "u2"], object),
                                     np.array([[1, 0], [0.6, 0.8]], np.float32),
                                     np.array([False, False]))
    vector_files.write_frames(tmp_path, reviews, vectors, users, {"dim": 2}, shards=2)
    assert len(list(tmp_path.glob("reviews-*-of-00002.parquet"))) == 2
    back = vector_files.read_embedded(tmp_path)
    # Sorted by (source, order): a.json:0, a.json:1, b.json:0.
    assert back.reviews.frame[schema.ITEM].tolist() == ["i1", "i2", "i1"]
    np.testing.assert_array_equal(back.reviews.vectors, vectors[[2, 1, 0]])
    assert back.users.ids.tolist() == ["u1", "u2"]
    assert back.users.vectors.dtype == np.float32
    with pytest.raises(FileNotFoundError, match="manifest.json not found"):
        vector_files.read_embedded(tmp_path / "nothing")


@pytest.mark.slow
def test_the_beam_job_equals_the_in_process_embedder(review_folder, tmp_path, resolved,
                                                     encoder_cache, monkeypatch):
    pytest.importorskip("apache_beam")
    from textrec.scale import beam_job

    monkeypatch.setenv("TEXTREC_CACHE", str(encoder_cache))     # the workers inherit it
    # TensorFlow's graph, not XLA: no compile per shape in each worker (the job is the same).
    settings = embedding.EmbeddingSettings(max_length=32, batch_size=4, compiled=False)
    reference = embedding.embed_in_process(review_folder, tmp_path / "ref", settings)
    manifest = beam_job.run_embedding_job(review_folder, tmp_path / "beam", workers=2,
                                          settings=settings)
    job = vector_files.read_embedded(tmp_path / "beam")
    pd.testing.assert_frame_equal(job.reviews.frame, reference.reviews.frame, check_dtype=False)
    np.testing.assert_allclose(job.reviews.vectors, reference.reviews.vectors, atol=1e-5)
    assert job.users.ids.tolist() == reference.users.ids.tolist() == ["u1", "u2", "u3", "u4"]
    np.testing.assert_allclose(job.users.vectors, reference.users.vectors, atol=1e-5)
    assert job.users.empty.tolist() == [False, False, False, True]
    counters = manifest["counters"]
    assert counters["skipped: malformed line"] == 1 and counters["reviews read"] == 8
    assert counters["removed: duplicate (user, item)"] == 1
    assert counters["removed: same review posted again on another item"] == 1
    assert counters["scrubbed reviews"] == 1 and counters["reviews embedded"] == 5
    assert manifest["workers"] == 2 and manifest["users"] == 4
    assert manifest["embedding processes"] == 2      # the batches were dealt to both workers
    assert [r["source"] for r in manifest["load_reports"]] == [
        "part-0.json", "part-1.json.gz", "part-2.parquet"]
