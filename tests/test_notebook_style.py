"""Every notebook follows the course style (../shared/STYLE.md) and is committed without outputs."""

import re
from pathlib import Path

import nbformat
import pytest

from textrec import config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "exercises")
                   for p in (ROOT / folder).glob("*.ipynb"))
NUMBERED = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]


def test_there_are_numbered_notebooks():
    assert {p.name for p in NUMBERED} >= {"00_overview.ipynb", "01_data_preparation.ipynb"}


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_style(path):
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    first = cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "H1 title first"
    assert re.search(r"^\*.+\*$", first.source, re.MULTILINE), "a one-line italic subtitle"
    badge = config.colab_badge_url(str(path.relative_to(ROOT)))
    assert f"({badge})" in first.source, f"Colab badge must link to {badge}"
    for heading in ("What you will learn", "Prerequisites", "Expected runtime"):
        assert heading in first.source

    code = [c for c in cells if c.cell_type == "code"]
    assert "google.colab" in code[0].source and "import textrec" in code[0].source, "setup cell first"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[1], "one parameters cell, right after setup"

    sources = "\n".join(c.source for c in code)
    if "import tensorflow" in sources:
        assert sources.index("import textrec") < sources.index("import tensorflow"), "textrec first"

    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for heading in ("## Summary", "## Exercises", "## Next"):
        assert heading in markdown, f"missing {heading}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "clear outputs before committing"
