"""Unit tests for the pure helpers of the browser check (the browser part runs in `make browser`)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import check_book as cb  # noqa: E402


def test_find_pages_skips_asset_folders(tmp_path):
    for rel in ["index.html", "book/03_sparse.html", "book/intro.html", "_static/x.html",
                "_sources/book/a.html", "_images/b.html", "book/notes.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<html></html>")
    assert cb.find_pages(tmp_path) == ["book/03_sparse.html", "book/intro.html", "index.html"]


def test_is_local_url_allows_only_the_served_origin():
    origin = "http://127.0.0.1:8123"
    assert cb.is_local_url("http://127.0.0.1:8123/book/intro.html", origin)
    assert cb.is_local_url("http://127.0.0.1:8123", origin)
    assert cb.is_local_url("data:image/png;base64,AAAA", origin)
    assert cb.is_local_url("blob:http://127.0.0.1:8123/5f0c", origin)
    assert not cb.is_local_url("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js", origin)
    assert not cb.is_local_url("http://127.0.0.1:8124/book/intro.html", origin)  # another port
    assert not cb.is_local_url("http://127.0.0.1:81234/x", origin)  # a prefix, not the origin


def test_screenshot_name_flattens_folders():
    assert cb.screenshot_name("book/03_sparse.html") == "book__03_sparse.png"
    assert cb.screenshot_name("index.html", "slider1_before") == "index_slider1_before.png"
    assert cb.screenshot_name("book/glossary.html", ext="jpg") == "book__glossary.jpg"


def test_source_notebook_only_for_notebook_pages(tmp_path):
    (tmp_path / "_sources/book").mkdir(parents=True)
    (tmp_path / "_sources/book/03_sparse.ipynb").write_text(json.dumps({"cells": []}))
    (tmp_path / "_sources/book/glossary.md").write_text("# Glossary")
    assert cb.source_notebook(tmp_path, "book/03_sparse.html") == "book/03_sparse.ipynb"
    assert cb.source_notebook(tmp_path, "book/glossary.html") is None


def test_duplicates_ignore_query_strings():
    urls = ["http://h/_static/a.js?v=1", "http://h/_static/b.js", "http://h/_static/a.js?v=2"]
    assert cb.duplicates(urls) == ["http://h/_static/a.js"]
    assert cb.duplicates(urls[:2]) == []


def test_serve_serves_the_folder(tmp_path):
    import urllib.request

    (tmp_path / "page.html").write_text("hello")
    server, origin = cb.serve(tmp_path)
    try:
        with urllib.request.urlopen(f"{origin}/page.html", timeout=5) as response:
            assert response.read() == b"hello"
    finally:
        server.shutdown()


def test_redirect_pages_are_recognised_and_their_target_checked(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text("<html><body><p>Welcome</p></body></html>")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />\n')
    (tmp_path / "broken.html").write_text("<meta http-equiv='refresh' content='0;url=book/missing.html'>")
    assert cb.redirect_target(tmp_path, "index.html") == "book/intro.html"
    assert cb.redirect_target(tmp_path, "book/intro.html") is None
    ok = cb.check_page(None, "http://127.0.0.1:1", tmp_path, "index.html", tmp_path, 1000)
    assert not ok.problems and ok.stats["redirect"] == "book/intro.html"
    bad = cb.check_page(None, "http://127.0.0.1:1", tmp_path, "broken.html", tmp_path, 1000)
    assert bad.problems == ["redirects to a missing page: book/missing.html"]


def test_a_real_page_with_a_refresh_and_content_is_not_a_redirect(tmp_path):
    body = "<p>" + "text " * 200 + "</p>"
    (tmp_path / "page.html").write_text('<meta http-equiv="refresh" content="30; url=other.html">' + body)
    assert cb.redirect_target(tmp_path, "page.html") is None


def test_lacks_alt_spots_file_names_and_empty_alt():
    assert cb.lacks_alt(None) and cb.lacks_alt("") and cb.lacks_alt("  ")
    assert cb.lacks_alt("../_images/5f0c1d.png") and cb.lacks_alt("figure.JPG")
    assert not cb.lacks_alt("Reconstructions of five test images at latent size 32")
    assert not cb.lacks_alt("a plot of loss.png against epochs")  # a sentence that mentions a file


def test_axe_problems_fail_serious_and_critical_but_count_the_rest():
    violations = [
        {"id": "image-alt", "impact": "critical", "help": "Images must have alternative text",
         "nodes": [{"target": [".widget-image"]}, {"target": ["#fig2 > img"]}]},
        {"id": "region", "impact": "moderate", "help": "landmarks", "nodes": [{"target": ["div"]}]},
        {"id": "aria-required-children", "impact": "critical", "help": "children",
         "nodes": [{"target": [".citation-list"]}]},
    ]
    problems, counted = cb.axe_problems(violations)
    assert len(problems) == 2 and all("image-alt" in p and "(critical)" in p for p in problems)
    assert counted == {"region": 1, "aria-required-children": 1}  # known theme markup: counted, not failed
    assert cb.known_violation("aria-required-children", "main .citation-list")
    assert cb.known_violation("aria-required-children", ".toctree") is None
    assert cb.known_violation("image-alt", ".citation-list") is None


def test_every_known_violation_gives_its_reason():
    for rule, fragment, reason in cb.AXE_KNOWN:
        assert rule and fragment and len(reason) > 40
