"""The time-ordered replay and drift measures (textrec.feedback.replay, .drift)."""

import numpy as np
import pandas as pd
import pytest

from textrec import feedback
from textrec.data import schema


def test_periods_follow_the_cutoff_with_equal_counts():
    # times 1..10, cut-off at the 0.5 quantile: times[5] = 6; the rest (6..10) in two periods
    # starting at later[0] = 6 and later[int(0.5 * 5)] = 8; the last ends after the last review
    cutoff, periods = feedback.replay_periods(np.arange(1, 11), 0.5, 2)
    assert cutoff == 6
    assert [(p.start, p.end) for p in periods] == [(6, 8), (8, 11)]
    # many reviews on one day: duplicate bounds collapse into fewer periods
    cutoff, periods = feedback.replay_periods([1, 2, 3, 3, 3, 3], 0.5, 3)
    assert cutoff == 3 and [(p.start, p.end) for p in periods] == [(3, 4)]
    with pytest.raises(ValueError, match="cutoff_quantile"):
        feedback.replay_periods([1, 2], 1.0)


def _reviews():
    # u1 writes about item a then b, u2 about a, c, then b, u3 about c then a.
    rows = [("u1", "a", 1, (1, 0)), ("u2", "a", 2, (1, 0)), ("u3", "c", 3, (0, 1)),
            ("u2", "c", 4, (0, 1)), ("u1", "b", 5, (0.6, 0.8)), ("u2", "b", 6, (0.8, 0.6)),
            ("u3", "a", 7, (1, 0)), ("u1", "c", 8, (0, 1))]
    frame = pd.DataFrame([r[:3] for r in rows], columns=[schema.USER, schema.ITEM,
                                                         schema.TIMESTAMP])
    frame[schema.TEXT] = "text"
    return frame, np.array([r[3] for r in rows], np.float32)


def test_targets_are_new_items_of_the_period_and_history_is_strictly_before():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    # times 1..8: cut-off times[4] = 5; periods [5, 7) and [7, 9)
    assert replay.cutoff == 5 and [(p.start, p.end) for p in replay.periods] == [(5, 7), (7, 9)]
    first = replay.targets(replay.periods[0]).toarray()
    # in [5, 7): u1 -> b, u2 -> b (items a, b, c are columns 0, 1, 2)
    np.testing.assert_array_equal(first, [[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    history = replay.history(5).toarray()  # t < 5: u1 a; u2 a, c; u3 c
    np.testing.assert_array_equal(history, [[1, 0, 0], [1, 0, 1], [0, 0, 1]])


def test_live_vectors_read_reviews_up_to_the_period_start_and_frozen_ones_stop_at_the_cutoff():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    second = replay.periods[1]  # starts at 7: u1's review of b (t=5) is before it
    live = feedback.Schedule("live", live=True)
    frozen = feedback.Schedule("frozen")
    # u1 at the cut-off: (1, 0); at 7: normalize((1, 0) + (0.6, 0.8)) = (0.894, 0.447)
    np.testing.assert_allclose(replay.interest_vectors(7)[0], [1.6, 0.8] / np.hypot(1.6, 0.8),
                               atol=1e-6)
    frozen_scores, live_scores = replay.scores(frozen, second), replay.scores(live, second)
    np.testing.assert_allclose(frozen_scores[0], [1, _UNKNOWN, 0], atol=1e-6)  # b unseen at 5
    assert not np.allclose(frozen_scores, live_scores)
    assert replay.fit_time(feedback.Schedule("r", retrain_every=2), second) == 5
    assert replay.fit_time(feedback.Schedule("r", retrain_every=1), second) == 7


_UNKNOWN = -2.0


def test_a_period_never_reads_its_own_reviews():
    """Changing every review written from a period's start on leaves that period's scores
    (every schedule) unchanged: no leakage."""
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    for period in replay.periods:
        changed = vectors.copy()
        later = frame[schema.TIMESTAMP].to_numpy() >= period.start
        changed[later] = np.array([-0.6, 0.8], np.float32)
        other = feedback.Replay(frame, changed, cutoff_quantile=0.5, n_periods=2)
        for schedule in feedback.default_schedules():
            np.testing.assert_allclose(replay.scores(schedule, period),
                                       other.scores(schedule, other.periods[period.number]))


def test_run_reports_every_schedule_per_period_with_intervals_and_chance():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    schedules = [feedback.Schedule("frozen"), feedback.Schedule("live", live=True),
                 feedback.Schedule("pop", "popularity")]
    result = replay.run(schedules)
    table = result.table()
    assert list(table["model"]) == ["frozen", "live", "pop"] * 2
    assert (table["low"] <= table["ndcg@10"]).all() and (table["ndcg@10"] <= table["high"]).all()
    # 3 items, one target each, none masked beyond history: random NDCG is below 1
    assert (table["random"] > 0).all() and (table["random"] < 1).all()
    assert len(result.pooled("live")) == table.groupby("period")["users"].first().sum()
    comparison = result.compare_by_period("live", "frozen")
    assert len(comparison) == 2 and (comparison["low"] <= comparison["high"]).all()


def test_js_divergence_by_hand():
    assert feedback.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert feedback.js_divergence([2, 3], [4, 6]) == pytest.approx(0.0)
    # p = (.5, .5), q = (1, 0), m = (.75, .25): KL(p||m) = .5 log2(2/3) + .5 log2 2 = 0.2075,
    # KL(q||m) = log2(4/3) = 0.4150, JS = 0.3113
    assert feedback.js_divergence([1, 1], [1, 0]) == pytest.approx(0.31128, abs=1e-4)
    with pytest.raises(ValueError, match="positive total"):
        feedback.js_divergence([0, 0], [1, 0])


def test_drift_tables():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    mix = feedback.item_mix_drift(replay)
    # before the cut-off: a 2, c 2, b 0; period 0 (t 5, 6) is all b: a new item
    assert mix["share on new items"].tolist() == [1.0, 0.0]
    assert mix["reviews"].tolist() == [2, 2]
    # the noise floors are there, and period 0's "previous" is the window itself
    assert (mix["noise floor vs window"] > 0).all()
    assert mix.loc[0, "noise floor vs previous"] == mix.loc[0, "noise floor vs window"]
    interests = feedback.interest_drift(replay)
    # at period 0's start nothing moved since the cut-off
    assert interests["cos(cut-off, start)"].iloc[0] == pytest.approx(1.0)
    assert interests["cos(cut-off, start)"].iloc[1] < 1.0


class _HashingEmbedder:
    """A stand-in encoder: a fixed random unit vector per distinct text (no TensorFlow)."""

    dim = 16

    def embed(self, texts, **options):
        import zlib

        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim)
                for t in texts]
        rows = np.array(rows, np.float32).reshape(-1, self.dim)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def test_the_feedback_stage_reports_faithfulness_and_the_replay(tmp_path):
    from textrec import interests
    from textrec.data.prepare import prepare_data
    from textrec.pipeline.feedback_stage import feedback_stage
    from textrec.pipeline.state import PipelineState

    state = PipelineState(source="synthetic", profile="quick", seed=0, reports=tmp_path,
                          progress=False)
    (tmp_path / "figures").mkdir()
    state.embedder = _HashingEmbedder()
    prepared = prepare_data("synthetic", profile="quick", seed=0)
    state.put("data", prepared=prepared)
    train_vectors = interests.embed_texts(state.embedder, prepared.split.train[schema.TEXT])
    state.put("interests", review_vectors=train_vectors, description_vectors=None)
    section = feedback_stage(state)
    assert section.startswith("## Explanations and the feedback loop")
    assert "text live - text frozen" in section and "(tmp" not in section
    assert (tmp_path / "figures" / "feedback_replay.png").is_file()
    study = state.feedback_study
    assert set(study.replay.names) >= {"text frozen", "text live", "EASE frozen"}
    assert {"replay ndcg@10 gain, live vs frozen", "faithfulness ratio (text-only)"} <= set(
        state.metrics)
    # the replay's window runs over every review, the explanations over the train split only
    assert study.window["last review"] == pd.Timestamp(
        int(prepared.reviews[schema.TIMESTAMP].max()), unit="s").strftime("%Y-%m-%d")


def test_min_reviews_keeps_popularity_and_groups_split_known_from_new_users():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    second = replay.periods[1]  # at 7: u1 has 2 reviews, u2 3, u3 1
    guarded = feedback.Schedule("guarded", live=True, min_reviews=3)
    scores = replay.scores(guarded, second)
    popularity = replay.popularity(replay.cutoff)  # before 5: a 2, b 0, c 2 -> (1, 0, 1)
    np.testing.assert_allclose(scores[0], popularity)
    np.testing.assert_allclose(scores[2], popularity)
    assert not np.allclose(scores[1], popularity)
    with pytest.raises(ValueError, match="min_reviews"):
        feedback.Schedule("bad", min_reviews=0)
    result = replay.run([feedback.Schedule("live", live=True)])
    # everyone here wrote before the cut-off (t < 5): no new users
    assert len(result.pooled("live", "known")) == len(result.pooled("live"))
    assert len(result.pooled("live", "new")) == 0
    with pytest.raises(ValueError, match="group"):
        result.pooled("live", "old")


def test_js_noise_floor_by_hand():
    # One item holds the whole mix: every sample is that item, so sampling adds nothing.
    assert feedback.js_noise_floor([5, 0], 3) == 0.0
    # Two equally common items, one review per sample: two samples agree (JS 0) or are
    # disjoint (JS 1) with probability 1/2 each, so the mean is about 0.5 and the 95th
    # percentile 1.
    assert feedback.js_noise_floor([1, 1], 1, other=1, draws=4000, seed=1,
                                   quantile=None) == pytest.approx(0.5, abs=0.03)
    assert feedback.js_noise_floor([1, 1], 1, other=1, draws=400, seed=1) == 1.0
    # Larger samples sit closer to their mix; the same seed gives the same floor.
    small = feedback.js_noise_floor(np.ones(50), 20, seed=2)
    assert feedback.js_noise_floor(np.ones(50), 2000, seed=2) < small
    assert feedback.js_noise_floor(np.ones(50), 20, seed=2) == small
    with pytest.raises(ValueError, match="at least 1"):
        feedback.js_noise_floor([1, 1], 0)
    with pytest.raises(ValueError, match="quantile"):
        feedback.js_noise_floor([1, 1], 2, quantile=1.5)


def test_a_retrain_counts_only_where_the_item_sides_differ():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    schedules = [feedback.Schedule("live", live=True),
                 feedback.Schedule("retrain 1", live=True, retrain_every=1),
                 feedback.Schedule("retrain 2", live=True, retrain_every=2)]
    result = replay.run(schedules)
    # period 0 starts at the cut-off: a retrain there reads what the cut-off fit read
    assert result.fit_times["retrain 1", 0] == result.fit_times["live", 0] == replay.cutoff
    mix = feedback.item_mix_drift(replay)
    every_1 = feedback.retrain_value(result, mix, "retrain 1", "live")
    every_2 = feedback.retrain_value(result, mix, "retrain 2", "live")
    assert every_1["refitted"].tolist() == [False, True]
    assert every_2["refitted"].tolist() == [False, False]   # its first refit would be period 2
    assert not (every_1["retrain paid"] & ~every_1["refitted"]).any()


def test_comparisons_can_leave_period_0_out():
    frame, vectors = _reviews()
    replay = feedback.Replay(frame, vectors, cutoff_quantile=0.5, n_periods=2)
    result = replay.run([feedback.Schedule("frozen"), feedback.Schedule("live", live=True)])
    # period 0 starts at the cut-off: live vectors are still the frozen ones there
    np.testing.assert_array_equal(result.per_user["live", 0], result.per_user["frozen", 0])
    later = result.compare("live", "frozen", first_period=1)
    assert later["n_users"] == len(result.users[1])
    assert len(result.pooled("live", first_period=1)) == len(result.users[1])
    with pytest.raises(ValueError, match="no period"):
        result.pooled("live", first_period=5)
