"""Sphinx configuration of the skgmm documentation.

Build it (from the repository root) with::

    pip install ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

``api.rst`` is written here at build time: it lists every public name
(``__all__``) of skgmm and of its public modules, for autosummary to document
from the docstrings, so the reference follows the code without hand editing.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("SKGMM_ROOT", str(HERE.parent)))

import skgmm  # noqa: E402

project = "skgmm"
author = "the skgmm developers"
copyright = "2026, the skgmm developers"
version = release = skgmm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py", "**.zip", "**.md5"]
html_theme = "alabaster"
html_static_path = []
html_title = f"skgmm {release}"
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "doc_module": ("skgmm",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skgmm": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_signature": False,
}

# -- generated pages -----------------------------------------------------------

# Public modules documented in the API reference, in this order, when importable.
API_MODULES = [
    ("skgmm", "Estimators and warnings"),
    ("skgmm.model_selection", "Model selection"),
    ("skgmm.impute", "Imputation"),
    ("skgmm.online", "Online learning"),
    ("skgmm.dask", "Dask"),
    ("skgmm.plotting", "Plotting (``pip install 'skgmm[plot]'``)"),
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
            "   :no-index:",
            "",
            f".. currentmodule:: {module_name}",
            "",
        ]
        for kind in ("class", "function"):
            chosen = [name for name, k in names if k == kind]
            if chosen:
                lines += [".. autosummary::", "   :toctree: generated/"]
                if kind == "class":
                    lines.append("   :template: class.rst")
                lines += [""] + [f"   {name}" for name in chosen] + [""]
    text = "\n".join(lines) + "\n"
    path = HERE / "api.rst"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_page()
