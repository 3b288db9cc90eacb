"""The documentation builds without a warning (``sphinx-build -W``), gallery included.

The build is nitpicky (every cross-reference must resolve) and needs no
network: intersphinx reads the inventories shipped in ``docs/_intersphinx/``,
and MathJax is bundled. The ``test`` extra installs Sphinx and its extensions,
so CI builds the documentation on every run; the test skips only where they
are missing. The Python snippets of the pages run in ``test_doc_snippets.py``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    for module in (
        "sphinx",
        "numpydoc",
        "sphinx_gallery",
        "matplotlib",
        "pydata_sphinx_theme",
        "myst_parser",
        "sphinx-mathjax-offline",
    ):
        pytest.importorskip(module)
    # Build a copy, so that generated pages never land in the working tree.
    source = tmp_path / "docs"
    shutil.copytree(
        ROOT / "docs",
        source,
        ignore=shutil.ignore_patterns("_build", "auto_examples", "generated", "benchmarks"),
    )
    env = {**os.environ, "SKGMM_ROOT": str(ROOT), "MPLBACKEND": "Agg"}
    # One thread per library (OpenMP, BLAS): the examples are small, and on a
    # busy machine threads spinning for work would cost more than they save.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(source),
            str(tmp_path / "html"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    html = tmp_path / "html"
    pages = ["index", "getting_started", "user_guide", "cli", "api", "changelog", "glossary", "repository"]
    pages += ["benchmarks", "auto_examples/index"]
    pages += [f"benchmarks/{report.stem}" for report in (ROOT / "benchmarks").glob("*.md")]
    for page in pages:
        assert (html / f"{page}.html").stat().st_size > 0, page
    # The class pages use docs/_templates/autosummary/class.rst: a table of the
    # methods, the examples that use the class, and scikit-learn's
    # metadata-routing setters summarised in a line rather than documented.
    api_page = (html / "generated" / "skgmm.GaussianMixtureEM.html").read_text(encoding="utf-8")
    assert "Examples using this class" in api_page
    assert 'id="skgmm.GaussianMixtureEM.set_fit_request"' not in api_page
    assert 'id="skgmm.GaussianMixtureEM.lower_bound_"' in api_page
    # Formulas render offline: MathJax is in the site, not loaded from a CDN.
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert 'src="_static/mathjax/tex-chtml.js' in (html / "user_guide.html").read_text(encoding="utf-8")
    examples = sorted((source / "examples").glob("plot_*.py"))
    for example in examples:
        assert (html / "auto_examples" / f"{example.stem}.html").exists()
    # Every example drew at least one figure.
    assert len(list((html / "_images").glob("sphx_glr_plot_*_001.png"))) >= len(examples)


def _public_names_of_my_modules():
    import inspect

    import skgmm.plotting

    for name in skgmm.plotting.__all__:
        obj = getattr(skgmm.plotting, name)
        yield f"skgmm.plotting.{name}"
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if not member.startswith("_") and (
                    inspect.isfunction(value) or isinstance(value, classmethod)
                ):
                    yield f"skgmm.plotting.{name}.{member}"
    for name in ("main", "read_table", "fit_table", "summary", "write_figure", "build_parser"):
        yield f"skgmm.cli.{name}"


# Checks left out: extended summary, See Also, Examples on every method, and the
# return-value description ending with a period (numpydoc's ES01, SA01, EX01, RT02).
IGNORED_CHECKS = {"ES01", "SA01", "EX01", "RT02"}


@pytest.mark.parametrize("name", list(_public_names_of_my_modules()))
def test_numpydoc_validation(name):
    validate = pytest.importorskip("numpydoc.validate").validate
    errors = [
        f"{code}: {message}" for code, message in validate(name)["errors"] if code not in IGNORED_CHECKS
    ]
    assert not errors, "\n".join(errors)
