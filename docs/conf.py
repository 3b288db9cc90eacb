"""Sphinx configuration of the skgmm documentation.

Build it (from the repository root) with::

    pip install ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

Three things are written here at build time, so that the site follows the
code and the reports without hand editing (all three are git-ignored):

* ``api.rst`` lists every public name (``__all__``) of skgmm and of its public
  modules, for autosummary to document from the docstrings;
* ``benchmarks/*.md`` are copies of the reports in the repository's
  ``benchmarks/`` folder (with their figures), rendered by myst-parser;
* ``generated/`` (autosummary) and ``auto_examples/`` (sphinx-gallery).

The build needs no network: the intersphinx inventories of the projects we
link to are in ``_intersphinx/`` (see its README), and MathJax is bundled by
``sphinx-mathjax-offline``.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("SKGMM_ROOT", str(HERE.parent)))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))

import skgmm  # noqa: E402

project = "skgmm"
author = "the skgmm developers"
copyright = "2026, the skgmm developers"
version = release = skgmm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    # MathJax copied into _static/mathjax, so that formulas render offline
    "sphinx-mathjax-offline",
    # fitted attributes as link targets, re-exported names resolved (_ext/)
    "skgmm_sphinx",
]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "_intersphinx",
    "_ext",
    "examples",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "**.zip",
    "**.md5",
]
default_role = "literal"

# Every cross-reference must resolve: a broken one is a warning, and the
# test-suite builds with -W.
nitpicky = True
nitpick_ignore = [
    # Private scikit-learn name that its own docs do not index.
    ("py:class", "sklearn.utils._param_validation.InvalidParameterError"),
]

# -- HTML ------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skgmm {release}"
html_static_path = ["_static"]
html_css_files = ["skgmm.css"]
html_show_sourcelink = True
# "fit()" in the page contents, not "GaussianMixtureEM.fit()"
toc_object_entries_show_parents = "hide"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "show_prev_next": True,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
# no empty "Section navigation" column on pages without sub-pages
html_sidebars = {
    page: [] for page in ("index", "getting_started", "cli", "glossary", "changelog", "repository")
}

# -- intersphinx -------------------------------------------------------------------
#
# The inventories are shipped in _intersphinx/ (see its README for where they
# come from and how to refresh them), so the build works offline. A project
# whose file is missing is left out of the mapping, and references to it are
# not checked (the nitpick_ignore_regex below): an unreachable inventory is
# only a warning for Sphinx, but -W makes it an error. Set
# SKGMM_DOCS_INTERSPHINX=online to fetch the current inventories instead.


def _packages(*names: str) -> list[tuple[str, str]]:
    """References to these packages and their contents, unchecked."""
    return [(r"py:.*", rf"(~?)({'|'.join(names)})(\..*)?")]


# name: (URL, what goes unchecked when its inventory is missing)
INTERSPHINX = {
    "python": (
        "https://docs.python.org/3/",
        _packages(
            *sorted(sys.stdlib_module_names), *sorted(n for n in dir(builtins) if not n.startswith("_"))
        ),
    ),
    "numpy": ("https://numpy.org/doc/stable/", _packages("numpy")),
    "scipy": ("https://docs.scipy.org/doc/scipy/", _packages("scipy")),
    "sklearn": (
        "https://scikit-learn.org/stable/",
        # the docstrings inherited from scikit-learn (get_params, set_output...)
        # refer to its user guide and glossary
        _packages("sklearn")
        + [("std:ref", r"sklearn:.*|df_output_transform|sphx_glr_auto_examples_miscellaneous_.*")]
        + [("std:term", r"fit|transform|predict|estimator|meta-estimator")],
    ),
    "matplotlib": ("https://matplotlib.org/stable/", _packages("matplotlib", "mpl_toolkits")),
    "dask": ("https://docs.dask.org/en/stable/", _packages("dask")),
    "distributed": ("https://distributed.dask.org/en/stable/", _packages("distributed")),
    "joblib": ("https://joblib.readthedocs.io/en/stable/", _packages("joblib")),
}
_ONLINE = os.environ.get("SKGMM_DOCS_INTERSPHINX", "") == "online"
intersphinx_mapping = {}
nitpick_ignore_regex = []
for _name, (_url, _unchecked) in INTERSPHINX.items():
    _inventory = HERE / "_intersphinx" / f"{_name}.inv"
    if _ONLINE:
        intersphinx_mapping[_name] = (_url, None)
    elif _inventory.exists():
        intersphinx_mapping[_name] = (_url, str(_inventory))
    else:
        nitpick_ignore_regex += _unchecked
intersphinx_timeout = 10

# -- autodoc, numpydoc -------------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Markdown (the benchmark reports) ---------------------------------------------

myst_heading_anchors = 3
# The reports are written for GitHub's renderer, which allows a heading to
# skip a level.
suppress_warnings = ["myst.header"]

# -- gallery -----------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "doc_module": ("skgmm",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skgmm": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "skgmm_sphinx.example_order",
    "show_signature": False,
    "first_notebook_cell": None,
}

# -- generated pages -----------------------------------------------------------

# Public modules documented in the API reference, in this order, when importable.
API_MODULES = [
    ("skgmm", "Estimators and warnings"),
    ("skgmm.model_selection", "Model selection"),
    ("skgmm.impute", "Imputation"),
    ("skgmm.online", "Online learning"),
    ("skgmm.dask", "Dask"),
    ("skgmm.plotting", "Plotting (the ``plot`` extra)"),
]


def _public_names(module_name: str) -> list[tuple[str, str]]:
    """(qualified name of the defining module's re-export, kind) for each name in ``__all__``."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    names = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name, None)
        if name.startswith("_") or obj is None or inspect.ismodule(obj):
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if module_name != "skgmm" and getattr(skgmm, name, None) is obj:
            continue  # documented once, under skgmm
        names.append((name, "class" if inspect.isclass(obj) else "function"))
    return names


def _write_api_page() -> None:
    lines = [
        ".. This file is written by conf.py from the modules' __all__: edit those, not this.",
        "",
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Everything below is generated from the docstrings.",
        "",
    ]
    for module_name, title in API_MODULES:
        names = _public_names(module_name)
        if not names:
            continue
        lines += [
            title,
            "-" * len(title),
            "",
            f".. automodule:: {module_name}",
            "   :no-members:",
            "",
            f".. currentmodule:: {module_name}",
            "",
        ]
        for kind in ("class", "function"):
            chosen = [name for name, k in names if k == kind]
            if chosen:
                lines += [".. autosummary::", "   :toctree: generated/"]
                if kind == "class":
                    # a path under templates_path: a bare "class.rst" silently
                    # falls back to autosummary's default template
                    lines.append("   :template: autosummary/class.rst")
                lines += [""] + [f"   {name}" for name in chosen] + [""]
    text = "\n".join(lines) + "\n"
    path = HERE / "api.rst"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_page()


# The benchmark reports live beside the scripts that produce them; the site
# renders copies (with the figures they show), so that the pages can link to them.
BENCHMARK_REPORTS = ["RESULTS", "DASK", "INIT_QUALITY", "MISSING", "OUT_OF_CORE"]


def _copy_benchmark_reports() -> None:
    target = HERE / "benchmarks"
    target.mkdir(exist_ok=True)
    for path in [ROOT / "benchmarks" / f"{name}.md" for name in BENCHMARK_REPORTS] + sorted(
        (ROOT / "benchmarks").glob("*.png")
    ):
        copy = target / path.name
        if not copy.exists() or copy.read_bytes() != path.read_bytes():
            shutil.copyfile(path, copy)


_copy_benchmark_reports()
