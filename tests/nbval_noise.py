"""A pytest plugin: every notebook cell nbval executes must show no log noise (issue #17).

nbval keeps each executed cell's outputs on the test item (``item.test_outputs``); after the
cell runs, this plugin greps them for :data:`textrec._logging.OUTPUT_NOISE` (TensorFlow's
start-up lines, transformers' deprecation notice, ``INFO:tensorflow:``, tqdm's IProgress
warning, absl-format log lines) and fails the cell naming what it found. The root
``conftest.py`` loads it, so ``make test`` checks every lesson and every solution.
"""

from __future__ import annotations

import pytest

from textrec._logging import OUTPUT_NOISE


def output_text(output) -> str | None:
    """The text a learner reads in one nbformat output (a stream, or a result's plain text);
    None for other outputs (images, errors)."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") in ("display_data", "execute_result"):
        text = output.get("data", {}).get("text/plain", "")
    else:
        return None
    return "".join(text) if isinstance(text, list) else text


def noise_in_outputs(outputs) -> list[str]:
    """The lines of ``outputs`` (nbformat output dicts) that match a noise pattern."""
    found = []
    for output in outputs or []:
        text = output_text(output)
        if text is None:
            continue
        for line in text.splitlines():
            if any(pattern.search(line) for pattern in OUTPUT_NOISE):
                found.append(f"{output.get('name', output.get('output_type'))}: {line[:160]}")
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)
    noise = noise_in_outputs(outputs)
    if noise:
        pytest.fail("log noise in the cell's output:\n" + "\n".join(noise), pytrace=False)
    return result
