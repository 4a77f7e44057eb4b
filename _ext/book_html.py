"""Small fixes to the book's HTML, loaded through ``sphinx: local_extensions`` in _config.yml.

The browser check (tests/browser/check_book.py) fails without them.
"""
from __future__ import annotations


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", script) or "", getattr(script, "priority", 500),
            tuple(sorted(attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each ``<script>`` in a page.

    Sphinx 7.4 adds the inline scripts that extensions register after the builder has started
    twice (once with filename ``None``, once with ``''``), so sphinx-thebe's
    ``const THEBE_JS_URL = ...`` ran twice: a SyntaxError in the console of every page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # Late priority: after myst-nb and others have added their per-page scripts.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
