"""Sphinx extension for the book: every page loads each of its scripts once.

With Sphinx 7.4, a script an extension adds while the environment is read (sphinx-thebe's
configuration, sphinx-togglebutton's selector) reaches each page twice, with different priorities,
and the second copy of `const THEBE_JS_URL = ...` raises "Identifier 'THEBE_JS_URL' has already
been declared" in every page. This keeps the first copy (by load order) of each script, whatever
its priority.
"""
from __future__ import annotations


def unique_scripts(scripts: list) -> list:
    """Scripts in load order (priority, then position), each (file, attributes) only once."""
    seen, kept = set(), []
    for script in sorted(scripts, key=lambda js: getattr(js, "priority", 500)):
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe(app, pagename, templatename, context, doctree):
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app):
    app.connect("html-page-context", _dedupe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
