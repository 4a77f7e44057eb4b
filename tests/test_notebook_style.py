"""The book's layout rules, checked on the stored notebooks (see README, *How to add a chapter*).

- Code cells are short and fit the page's code box: at most 25 lines, lines at most 88 characters.
- Every figure is a numbered figure: the cell that draws it carries myst-nb figure metadata (a
  caption and a ``fig-`` name) and alt text, draws exactly one image, and the prose refers to it
  with ``{numref}``. Names are unique across the book.
- Every chapter has the sections Summary, Exercises and References, in that order, at the end.
- Stored outputs stay small (≤ 1.1 MB a notebook).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
MAX_LINES, MAX_WIDTH = 25, 88
WIDGET = "application/vnd.jupyter.widget-view+json"


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _images(cell) -> int:
    return sum("image/png" in out.get("data", {}) or "image/jpeg" in out.get("data", {})
               for out in cell.get("outputs", []))


def _has_widget(cell) -> bool:
    return any(WIDGET in out.get("data", {}) for out in cell.get("outputs", []))


def _figure_cells(path):
    return [c for c in _cells(path) if c["cell_type"] == "code" and _images(c) and not _has_widget(c)]


def test_every_chapter_is_in_the_table_of_contents():
    import yaml

    toc = yaml.safe_load((BOOK.parent / "_toc.yml").read_text())
    listed = {entry["file"] for part in toc["parts"] for entry in part["chapters"]}
    assert len(NOTEBOOKS) >= 7 and {f"book/{p.stem}" for p in NOTEBOOKS} <= listed, \
        [p.name for p in NOTEBOOKS if f"book/{p.stem}" not in listed]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short_and_narrow(path):
    problems = []
    for k, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        lines = _source(cell).rstrip("\n").splitlines()
        if len(lines) > MAX_LINES:
            problems.append(f"cell {k}: {len(lines)} lines (split it)")
        problems += [f"cell {k}: line of {len(line)} characters: {line[:40]}…"
                     for line in lines if len(line) > MAX_WIDTH]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_alt_text_and_a_reference(path):
    prose = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    problems = []
    for cell in _figure_cells(path):
        meta = cell.get("metadata", {}).get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        head = _source(cell).splitlines()[0][:50] if _source(cell) else "?"
        name, caption, alt = figure.get("name", ""), figure.get("caption", ""), image.get("alt", "")
        if not name.startswith("fig-"):
            problems.append(f"{head!r}: mystnb.figure.name must start with 'fig-'")
        if len(caption.strip()) < 15:
            problems.append(f"{head!r}: mystnb.figure.caption is missing or too short")
        if len(alt.strip()) < 20 or alt.strip() == caption.strip():
            problems.append(f"{head!r}: mystnb.image.alt must describe the picture (≥ 20 characters,"
                            " not the caption)")
        if _images(cell) != 1:
            problems.append(f"{head!r}: a figure cell must draw exactly one image, not {_images(cell)}")
        if name and not re.search(r"\{numref\}`([^`]*<)?" + re.escape(name) + r">?`", prose):
            problems.append(f"{head!r}: no {{numref}}`{name}` in the prose")
    assert not problems, "\n".join(problems)


def test_figure_names_are_unique_across_the_book():
    names = [c["metadata"]["mystnb"]["figure"]["name"] for path in NOTEBOOKS
             for c in _figure_cells(path) if "name" in c.get("metadata", {}).get("mystnb", {}).get("figure", {})]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, duplicates


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_ends_with_summary_exercises_references(path):
    headings = [line.strip() for c in _cells(path) if c["cell_type"] == "markdown"
                for line in _source(c).splitlines() if line.startswith("## ")]
    assert headings[-3:] == ["## Summary", "## Exercises", "## References"], headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_are_small(path):
    assert path.stat().st_size <= 1_100_000, f"{path.name}: {path.stat().st_size:,} bytes"
