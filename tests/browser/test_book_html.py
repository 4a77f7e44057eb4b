"""The Sphinx fix in _ext/book_html.py: one <script> per script on every page."""
import sys
from pathlib import Path

from sphinx.builders.html._assets import _JavaScript

sys.path.insert(0, str(Path(__file__).parents[2] / "_ext"))
import book_html  # noqa: E402


def test_inline_script_added_as_none_and_empty_filename_is_kept_once():
    body = {"body": 'const THEBE_JS_URL = "x"'}
    # What Sphinx 7.4 produces for an inline script registered after the builder started.
    scripts = [_JavaScript("_static/doctools.js"), _JavaScript(None, **body), _JavaScript("", **body),
               _JavaScript("_static/require.js", priority=500)]
    context = {"script_files": scripts}
    book_html.drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts  # edited in place: Sphinx restores it after each page
    assert [s.attributes.get("body") for s in scripts] == [None, body["body"], None]
    assert [s.filename for s in scripts] == ["_static/doctools.js", None, "_static/require.js"]


def test_different_attributes_are_different_scripts():
    scripts = [_JavaScript("_static/a.js"), _JavaScript("_static/a.js", **{"async": "async"})]
    book_html.drop_duplicate_scripts(None, "page", "page.html", {"script_files": scripts}, None)
    assert len(scripts) == 2
