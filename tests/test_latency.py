"""The timing helpers of textrec.export.latency, with a fake clock so the figures are exact."""

import numpy as np
import pytest

from textrec.export import latency


class FakeClock:
    """A clock that each call of the timed function advances by a known number of seconds."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_summarize_median_p95_mean():
    stats = latency.summarize([float(x) for x in range(1, 101)])   # 1 .. 100 ms
    assert stats["n"] == 100
    assert stats["median_ms"] == pytest.approx(50.5)
    assert stats["mean_ms"] == pytest.approx(50.5)
    assert stats["p95_ms"] == pytest.approx(95.05)                 # NumPy's linear interpolation
    assert stats["min_ms"] == 1.0 and stats["max_ms"] == 100.0
    with pytest.raises(ValueError):
        latency.summarize([])
    with pytest.raises(ValueError):
        latency.summarize([1.0, float("nan")])


def test_time_calls_with_inputs_and_warmup():
    clock, seen = FakeClock(), []

    def serve(x):
        seen.append(x)
        clock.advance(x / 1000.0)        # x milliseconds per call

    stats = latency.time_calls(serve, inputs=[2, 4, 6], n_calls=5, warmup=2, timer=clock)
    assert seen == [2, 4, 2, 4, 6, 2, 4]  # two warm-up calls, then the inputs cyclically
    assert stats["n"] == 5
    np.testing.assert_allclose(stats["samples_ms"], [2, 4, 6, 2, 4])
    assert stats["median_ms"] == pytest.approx(4.0)
    assert stats["mean_ms"] == pytest.approx(3.6)


def test_time_calls_without_inputs_and_errors():
    clock, calls = FakeClock(), []

    def serve():
        calls.append(1)
        clock.advance(0.010)

    stats = latency.time_calls(serve, 4, warmup=0, timer=clock)
    assert len(calls) == 4 and stats["median_ms"] == pytest.approx(10.0)
    with pytest.raises(ValueError):
        latency.time_calls(serve)                       # neither n_calls nor inputs
    with pytest.raises(ValueError):
        latency.time_calls(serve, 3, warmup=-1)
    with pytest.raises(ValueError):
        latency.time_calls(serve, 0)


def test_throughput_counts_items_per_second():
    clock = FakeClock()
    batches = [list(range(64))] * 3
    rate = latency.throughput(lambda batch: clock.advance(0.5), 64, inputs=batches,
                              timer=clock)
    assert rate == pytest.approx(128.0)                # 64 items every half second
    assert latency.items_per_second({"mean_ms": 250.0}, 10) == pytest.approx(40.0)
    with pytest.raises(ValueError):
        latency.items_per_second({"mean_ms": 1.0}, 0)


def test_time_once_and_export_size(tmp_path):
    clock = FakeClock()
    result, seconds = latency.time_once(lambda a, b=0: clock.advance(1.5) or a + b, 2, b=3,
                                        timer=clock)
    assert result == 5 and seconds == pytest.approx(1.5)
    (tmp_path / "variables").mkdir()
    (tmp_path / "saved_model.pb").write_bytes(b"x" * 100)
    (tmp_path / "variables" / "variables.data").write_bytes(b"y" * 250)
    assert latency.export_size_bytes(tmp_path) == 350
    assert latency.export_size_bytes(tmp_path / "saved_model.pb") == 100
    with pytest.raises(FileNotFoundError):
        latency.export_size_bytes(tmp_path / "missing")
