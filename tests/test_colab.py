"""Colab badges and set-up cells come from one setting (textrec/_colab.py) (issue #17)."""

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from textrec import _colab, config

ROOT = Path(__file__).resolve().parents[1]


def test_every_notebook_matches_the_setting():
    assert _colab.problems(ROOT) == []
    assert config.colab_badge_url("notebooks/00_overview.ipynb") == (
        f"https://colab.research.google.com/github/{_colab.REPOSITORY}/blob/{_colab.BRANCH}/"
        "notebooks/00_overview.ipynb")


def test_the_setup_cell_installs_without_downgrading_colab():
    cell = _colab.setup_cell(ROOT)
    ast.parse(cell)
    assert "USE_DRIVE = False" in cell and "drive.mount" in cell
    assert 'raise RuntimeError("pip install failed: its output is above")' in cell
    first, second = [line for line in cell.splitlines() if "pip_install(" in line][-2:]
    with_deps, no_deps = cell[cell.index(first):cell.index("# Without")], cell[cell.index(second):]
    assert "dp-accounting" not in with_deps and '"--no-deps", "dp-accounting' in no_deps
    assert all(need in with_deps for need in ('"dm-tree"', '"mpmath"', '"absl-py"', '"scipy"'))
    assert f"git+https://github.com/{_colab.REPOSITORY}@{_colab.BRANCH}" in no_deps
    # tensorflow-serving-api at Colab's TensorFlow minor, without its tensorflow>=2.x.y pin.
    assert "tensorflow-serving-api" not in with_deps
    assert 'f"tensorflow-serving-api=={tf_minor}.*"' in no_deps


def test_rewriting_for_another_repository(tmp_path):
    for folder in ("notebooks", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    changed = _colab.rewrite_notebooks(tmp_path, "someone/course", "dev")
    assert len(changed) == len(list((ROOT / "notebooks").glob("[0-9]*.ipynb"))) + len(
        list((ROOT / "solutions").glob("[0-9]*.ipynb")))
    notebook = nbformat.read(tmp_path / "notebooks" / "03_interest_vectors.ipynb", as_version=4)
    assert ("(https://colab.research.google.com/github/someone/course/blob/dev/notebooks/"
            "03_interest_vectors.ipynb)") in notebook.cells[0].source
    assert "git+https://github.com/someone/course@dev" in notebook.cells[1].source
    found = _colab.problems(tmp_path, "someone/course", "dev")
    assert found and all(line.startswith("exercises/") for line in found)  # not regenerated yet
    assert _colab.rewrite_notebooks(tmp_path, "someone/course", "dev") == []


def test_bad_repository_names_are_refused():
    with pytest.raises(ValueError, match="OWNER/NAME"):
        _colab.write_setting("not a repo", "main")
