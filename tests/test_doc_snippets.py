"""Every Python snippet of the documentation runs as written, without a warning.

The snippets are the ``.. code-block:: python`` blocks and the ``>>>`` examples
of ``docs/*.rst`` and the fenced ``python`` blocks of ``README.md``. The
snippets of a page run in order in one namespace, as a reader would type
them, in an empty working directory, with every warning turned into an
error; ``>>>`` examples are doctests (their output is compared). A page that
reads a file its text talks about gets that file from ``PAGE_FILES`` below
before it runs: that is the only preparation.

The gallery scripts (``docs/examples/``) are run by the documentation build,
in ``tests/test_docs.py``.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]

_RST_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. (?:code-block|code|sourcecode):: (?P<language>\S+)\s*$")
_MARKDOWN_FENCE = re.compile(r"^```(?P<language>\w*)\s*$")


def _rst_snippets(text: str) -> list[tuple[int, str, str]]:
    """``(line, kind, code)`` of every Python code block and doctest paragraph of reStructuredText."""
    lines = text.splitlines()
    snippets = []
    i = 0
    while i < len(lines):
        match = _RST_DIRECTIVE.match(lines[i])
        if match:
            indent = len(match["indent"])
            start = i + 1
            j = start
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
                j += 1
            body = [line for line in lines[start:j] if not line.strip().startswith(":") or line.strip() == ""]
            code = textwrap.dedent("\n".join(body)).strip("\n")
            language = match["language"]
            if language in ("python", "py", "python3"):
                snippets.append((i + 1, "doctest" if code.lstrip().startswith(">>>") else "code", code))
            elif language == "pycon":
                snippets.append((i + 1, "doctest", code))
            i = j
            continue
        if lines[i].lstrip().startswith(">>> ") and (i == 0 or not lines[i - 1].strip()):
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            snippets.append((i + 1, "doctest", textwrap.dedent("\n".join(lines[i:j]))))
            i = j
            continue
        i += 1
    return snippets


def _markdown_snippets(text: str) -> list[tuple[int, str, str]]:
    lines = text.splitlines()
    snippets = []
    i = 0
    while i < len(lines):
        match = _MARKDOWN_FENCE.match(lines[i])
        if match and match["language"]:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if match["language"] in ("python", "py", "pycon"):
                code = "\n".join(lines[i + 1 : j])
                kind = "doctest" if code.lstrip().startswith(">>>") else "code"
                snippets.append((i + 1, kind, code))
            i = j + 1
            continue
        i += 1
    return snippets


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _pages() -> dict[str, list[tuple[int, str, str]]]:
    pages = {}
    for path in sorted((ROOT / "docs").glob("*.rst")):
        pages[f"docs/{path.name}"] = _rst_snippets(path.read_text(encoding="utf-8"))
    pages["README.md"] = _markdown_snippets((ROOT / "README.md").read_text(encoding="utf-8"))
    return {name: snippets for name, snippets in pages.items() if snippets}


def _features_file(directory: Path) -> None:
    """A 'features.npy' of 40,000 rows and 8 features from 8 well-separated groups."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(-20, 20, size=(8, 8))
    X = centres[rng.integers(8, size=40_000)] + rng.normal(size=(40_000, 8))
    np.save(directory / "features.npy", X)


# Files that a page's snippets open, as the page describes them.
PAGE_FILES = {"docs/out_of_core.rst": _features_file}
# Optional dependencies a page's snippets import.
PAGE_NEEDS = {
    "docs/dask.rst": ["dask.array", "distributed"],
    "docs/getting_started.rst": ["matplotlib"],
    "docs/model_selection.rst": ["pandas"],
    "README.md": ["matplotlib"],
}

PAGES = _pages()


def test_snippets_are_found():
    # the extraction itself: the pages below have snippets, and all are found
    assert {"docs/index.rst", "docs/getting_started.rst", "README.md"} <= set(PAGES)
    assert len(PAGES["docs/getting_started.rst"]) >= 3


@pytest.mark.parametrize("page", sorted(PAGES))
def test_snippets_run_silently(page, tmp_path, monkeypatch):
    for module in PAGE_NEEDS.get(page, []):
        pytest.importorskip(module)
    if "matplotlib" in PAGE_NEEDS.get(page, []):
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    if page in PAGE_FILES:
        PAGE_FILES[page](tmp_path)
    namespace = {"__name__": "__snippets__"}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    parser = doctest.DocTestParser()
    try:
        # One thread (BLAS, OpenMP): the snippets are small, and on a busy
        # machine idle threads spinning for work would cost more than they do.
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("error")
            for line, kind, code in PAGES[page]:
                where = f"{page}, snippet at line {line}"
                output = io.StringIO()
                with contextlib.redirect_stdout(output):
                    if kind == "code":
                        exec(compile(code, where, "exec"), namespace)
                    else:
                        test = parser.get_doctest(code, namespace, where, page, line)
                        runner.run(test, out=output.write, clear_globs=False)
                if kind == "doctest":
                    assert runner.failures == 0, f"{where} failed:\n{output.getvalue()}"
    finally:
        _close(namespace)


def _close(namespace):
    """Close what the snippets opened: Dask clients, figures."""
    for value in list(namespace.values()):
        if type(value).__name__ == "Client" and type(value).__module__.startswith("distributed"):
            value.close()
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.close("all")
