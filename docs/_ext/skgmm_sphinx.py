"""Small additions to Sphinx for the skgmm documentation.

* **Fitted attributes are link targets.** numpydoc renders a class's
  ``Attributes`` section as a list of names; here each name (``lower_bound_``)
  also becomes a Python-domain attribute of the class, so that
  ``:attr:`GaussianMixtureEM.lower_bound_``` resolves, as nitpicky builds require.
* **Re-exported names resolve to their page.** A public name documented once
  (``skgmm.GaussianMixtureIC``) is also importable from a public module
  (``skgmm.model_selection.GaussianMixtureIC``); a reference by that path, or by
  the local name inside that module's docstrings, goes to the one page.

It also holds the gallery's order of examples (``example_order``).
"""

from __future__ import annotations

import importlib
import re

from docutils import nodes

_FIELD = re.compile(r"^:\w[\w ]*:\s*$")
_ATTRIBUTE = re.compile(r"^(\s+)\*\*(\w+)\*\*(\s:\s.*)?$")


def _mark_fitted_attributes(app, what, name, obj, options, lines):
    """Turn ``**name_**`` in numpydoc's rendered Attributes field into ``:fitted-attribute:`name_```."""
    if what != "class":
        return
    inside = False
    for i, line in enumerate(lines):
        if _FIELD.match(line) or line.startswith(".. "):
            inside = line.strip() == ":Attributes:"
            continue
        match = _ATTRIBUTE.match(line) if inside else None
        if match:
            indent, attribute, rest = match.groups()
            lines[i] = f"{indent}:fitted-attribute:`{attribute}`{rest or ''}"


def _fitted_attribute_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    module = env.ref_context.get("py:module")
    cls = env.ref_context.get("py:class")
    node = nodes.strong(rawtext, text)
    if module and cls:
        fullname = f"{module}.{cls}.{text}"
        node["ids"].append(fullname)
        env.get_domain("py").note_object(fullname, "attribute", fullname, location=(env.docname, lineno))
    return [node], []


def _resolve_reexport(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("skgmm."):
        module = node.get("py:module") or ""
        if not module.startswith("skgmm."):
            return None
        target = f"{module}.{target}"
    skgmm = importlib.import_module("skgmm")
    parts = target.split(".")
    domain = env.get_domain("py")
    for cut in range(len(parts) - 1, 1, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        attribute = parts[cut]
        if getattr(module, attribute, None) is not getattr(skgmm, attribute, object()):
            return None
        canonical = ".".join(["skgmm", *parts[cut:]])
        if canonical not in domain.objects:
            return None
        return domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
        )
    return None


def example_order(filename):
    """Gallery order: the first example first, then by file name."""
    return (filename != "plot_first_mixture.py", str(filename))


def setup(app):
    # after numpydoc's own handler (extensions connect before conf.py's setup runs)
    app.connect("autodoc-process-docstring", _mark_fitted_attributes, priority=600)
    app.add_role("fitted-attribute", _fitted_attribute_role)
    app.connect("missing-reference", _resolve_reexport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
