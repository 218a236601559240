"""A pytest plugin: under nbval, a lesson's readings are checked against the run that printed them.

For the lessons in :data:`tests.lesson_readings.LESSONS`, it keeps what each cell tagged
``reading`` printed; after the notebook's last code cell it evaluates the lesson's values in the
same kernel and fails that cell if a reading contradicts its own numbers or does not show this
run's values (:func:`tests.lesson_readings.check_readings`). ``make test`` executes every lesson
on the synthetic default anyway, so this costs a fraction of a second per lesson; the root
``conftest.py`` loads it.
"""

from __future__ import annotations

from pathlib import Path
from queue import Empty

import pytest

from tests import lesson_readings
from tests.nbval_noise import output_text

_printed: dict[str, list[str]] = {}


def _lesson(item) -> str | None:
    path = Path(str(getattr(item.parent, "path", getattr(item.parent, "fspath", ""))))
    if path.parent.name != "notebooks" or path.stem not in lesson_readings.LESSONS:
        return None
    return path.stem


def _text(outputs) -> str:
    return "".join(text for text in map(output_text, outputs or []) if text is not None)


def _evaluate(kernel, code: str, timeout: float = 120) -> str:
    """Run ``code`` in the notebook's kernel; what it printed."""
    message = kernel.execute_cell_input(code, allow_stdin=False)
    printed = []
    while True:
        try:
            reply = kernel.get_message(stream="iopub", timeout=timeout)
        except Empty:
            break
        if reply["parent_header"].get("msg_id") != message:
            continue
        if reply["msg_type"] == "stream":
            printed.append(reply["content"]["text"])
        elif reply["msg_type"] == "error":
            printed.append(f"error: {reply['content']['ename']}: {reply['content']['evalue']}")
        elif reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            break
    return "".join(printed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    name = _lesson(item) if hasattr(item, "cell") else None
    if name is None:
        return result
    key = str(item.parent.path)
    if item.cell_num == 0:
        _printed[key] = []
    if "reading" in item.cell.metadata.get("tags", []):
        _printed.setdefault(key, []).append(_text(item.test_outputs))
    cells = [c for c in item.parent.nb.cells if c.cell_type == "code"]
    if item.cell_num == len(cells) - 1:
        values_text = _evaluate(item.parent.kernel,
                                lesson_readings.values_code(lesson_readings.LESSONS[name].values))
        if lesson_readings.MARK not in values_text:
            pytest.fail(f"the readings' values could not be read from the kernel: "
                        f"{values_text[-500:]}", pytrace=False)
        problems = lesson_readings.check_readings(name, _printed.pop(key, []),
                                                  lesson_readings.parse_values(values_text))
        if problems:
            pytest.fail("readings that do not match this run:\n" + "\n".join(problems),
                        pytrace=False)
    return result
