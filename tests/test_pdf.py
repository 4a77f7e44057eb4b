"""The whole-book PDF (`make pdf`): every chapter's text, every stored figure, every slider's still.

    make pdf-test          (builds the PDF, then BOOK_PDF=_build/pdf/autoencoders.pdf pytest this file)

Skipped unless ``BOOK_PDF`` names the PDF; fails if it names a missing file. Uses poppler-utils
(``pdfinfo``, ``pdftotext``, ``pdfimages``, ``pdftoppm``) and compares the PDF with the stored
outputs of the notebooks in ``book/``, which it was built from:

* every chapter's title and prose characters (Greek, arrows, ...) are in the text layer, and
  XeLaTeX's log has no "Missing character" (a glyph that no font had, silently left out);
* every ``image/png`` output of every notebook is embedded at its pixel size, so a PDF without
  its figures fails;
* every slider (an ``aelib.widgets.explorer`` output) prints as its still picture, on the page of
  the code that made it or the next two;
* pages rendered with ``pdftoppm`` are not blank, and the pages with a still draw a picture.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PDF = os.environ.get("BOOK_PDF", "")
LATEX_LOG = Path(os.environ.get("BOOK_LATEX_LOG", ROOT / "_build" / "latex" / "autoencoders.log"))
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
REMOVED = {"remove-cell", "remove_cell", "remove-output", "remove_output"}

pytestmark = pytest.mark.skipif(not PDF, reason="set BOOK_PDF to the built PDF (make pdf-test)")


def _run(*args: str) -> str:
    tool = args[0]
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: apt-get install poppler-utils")
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def pdf() -> Path:
    path = Path(PDF)
    assert path.is_file(), f"BOOK_PDF={PDF}: no such file; build it with `make pdf`"
    return path


@pytest.fixture(scope="module")
def page_texts(pdf) -> list[str]:
    """Text of each page (pdftotext separates pages with a form feed)."""
    pages = _run("pdftotext", "-enc", "UTF-8", str(pdf), "-").split("\f")
    return [" ".join(page.split()) for page in pages[:-1]]


@pytest.fixture(scope="module")
def images(pdf) -> list[tuple[int, int, int]]:
    """(page, width, height) of every image drawn, in pixels (soft masks left out)."""
    rows = []
    for line in _run("pdfimages", "-list", str(pdf)).splitlines()[2:]:
        fields = line.split()
        if len(fields) > 4 and fields[2] == "image":
            rows.append((int(fields[0]), int(fields[3]), int(fields[4])))
    return rows


@pytest.fixture(scope="module")
def chapters(pdf, page_texts) -> dict[str, range]:
    """Notebook name → its pages: from its chapter's PDF destination (``chapter.N``, the page
    that opens with "CHAPTER FOUR" and the title) to the page before the next chapter."""
    dests = _run("pdfinfo", "-dests", str(pdf))
    starts = sorted({int(p) for p in re.findall(r'^\s*(\d+) \[[^]]*\] "chapter\.\d+"\s*$', dests, re.M)})
    spans = [range(start, end) for start, end in zip(starts, starts[1:] + [len(page_texts) + 1])]

    def heading(span: range) -> str:  # the page's text after "CHAPTER FOUR", in lower case
        words = _normal(page_texts[span.start - 1]).casefold().split(" ")
        return " ".join(words[2:] if words[0] == "chapter" else words)

    found = {}
    for path in NOTEBOOKS:
        title = _normal(_title(path)).casefold()
        spans_of_title = [span for span in spans if heading(span).startswith(title)]
        if spans_of_title:
            found[path.name] = spans_of_title[0]
    return found


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _shown(cell) -> bool:
    return not REMOVED & set(cell.get("metadata", {}).get("tags", []))


def _png_size(data: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return image.size


def _figures(path: Path):
    """(cell index, output, png size) of each PNG the PDF shows: LaTeX prefers image/png."""
    for k, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code" or not _shown(cell):
            continue
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                yield k, output, _png_size(png)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _title(path: Path) -> str:
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return re.sub(r"[`*_]", "", line[2:]).strip()
    raise AssertionError(f"{path.name} has no '# ' title")


def _squeeze(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def test_the_pdf_has_every_chapter(pdf, page_texts, chapters):
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))
    assert pages == len(page_texts) >= 10 * len(NOTEBOOKS), pages
    missing = [_title(p) for p in NOTEBOOKS if p.name not in chapters]
    assert not missing, f"chapters missing from the PDF: {missing}"
    blank = [p for p, t in enumerate(page_texts, 1) if not t]
    assert len(blank) <= 4, f"{len(blank)} blank pages: {blank}"


def test_prose_characters_survive_in_the_text(page_texts):
    """Unicode in the prose (outside math and code) reaches the PDF's text layer: λ stays λ."""
    text = set(" ".join(page_texts))
    prose = set()
    for path in NOTEBOOKS:
        for cell in _cells(path):
            if cell["cell_type"] == "markdown":
                body = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|<[^>]*>", " ", _source(cell), flags=re.S)
                prose |= {ch for ch in body if ord(ch) > 127 and unicodedata.category(ch)[0] in "LSPN"}
    missing = sorted(prose - text)
    assert not missing, f"characters of the prose not in the PDF text: {' '.join(missing)}"


def test_latex_found_a_glyph_for_every_character():
    if not LATEX_LOG.is_file():
        pytest.skip(f"no LaTeX log at {LATEX_LOG}")
    log = LATEX_LOG.read_text(encoding="utf-8", errors="replace")
    missing = Counter(re.findall(r"Missing character: There is no (.+?) in font ([^!]+)!", log))
    assert not missing, (
        "XeLaTeX left out characters that its fonts lack; map them to a font that has them "
        "(\\newunicodechar in _config.yml, latex_elements.preamble): "
        + "; ".join(f"{ch} ({font.strip()}) ×{n}" for (ch, font), n in missing.items()))


def test_every_stored_figure_is_embedded(images):
    have = Counter((w, h) for _, w, h in images)
    want = Counter()
    where = {}
    for path in NOTEBOOKS:
        for k, _, size in _figures(path):
            want[size] += 1
            where.setdefault(size, f"{path.name} cell {k}")
    assert sum(want.values()) >= len(NOTEBOOKS), "the notebooks store almost no figures"
    missing = want - have
    assert not missing, "figures missing from the PDF (pixel size: first cell): " + ", ".join(
        f"{w}x{h} ({where[(w, h)]})" for (w, h) in missing)


def _sliders(page_texts, images, chapters):
    """For each explorer output: (where, page of its code, pages with its still, still size)."""
    found = []
    for path in NOTEBOOKS:
        for k, cell in enumerate(_cells(path)):
            outputs = [o for o in cell.get("outputs", []) if WIDGET in o.get("data", {})]
            if cell["cell_type"] != "code" or not outputs or not _shown(cell):
                continue
            where = f"{path.name} cell {k}"
            png = outputs[-1]["data"].get("image/png")
            assert png, (f"{where}: the slider output has no still picture (image/png); re-execute "
                         "the notebook with the current aelib (make execute NB=...)")
            line = _squeeze(next(line for line in _source(cell).splitlines() if "explorer(" in line))
            span = chapters.get(path.name, range(1, len(page_texts) + 1))
            pages = [p for p in span if line in _squeeze(page_texts[p - 1])]
            assert pages, f"{where}: its code ({line[:40]}…) is not in the PDF"
            size = _png_size(png)
            hits = sorted({p for p, w, h in images if (w, h) == size and pages[0] <= p <= pages[0] + 2})
            found.append((where, pages[0], hits, size))
    return found


def test_every_slider_prints_as_its_still(page_texts, images, chapters):
    sliders = _sliders(page_texts, images, chapters)
    assert sliders, "no slider (explorer) outputs in the notebooks"
    lost = [f"{where}: no {w}x{h} still on pages {page}-{page + 2}"
            for where, page, hits, (w, h) in sliders if not hits]
    assert not lost, "\n".join(lost)


def _ink(pdf: Path, page: int) -> np.ndarray:
    """Page ``page`` rendered at 36 dpi in grey: 1 where something is drawn, 0 on white paper."""
    with tempfile.TemporaryDirectory() as tmp:
        _run("pdftoppm", "-r", "36", "-gray", "-f", str(page), "-l", str(page), "-png", str(pdf), f"{tmp}/p")
        (png,) = Path(tmp).glob("p*.png")
        pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    return (pixels < 235).astype(float)


def _tallest_block(ink: np.ndarray) -> float:
    """Height, as a share of the page, of the tallest band of rows that all have ink: a picture
    is one; lines of text are separated by white rows."""
    longest = run = 0
    for row in ink.mean(axis=1) > 0.02:
        run = run + 1 if row else 0
        longest = max(longest, run)
    return longest / ink.shape[0]


def test_rendered_pages_hold_text_and_the_still_pages_a_picture(pdf, page_texts, images, chapters):
    pages_with_images = {p for p, _, _ in images}
    starts = [chapters[p.name].start for p in NOTEBOOKS[:2] if p.name in chapters]
    text_only = [p for p in range(starts[0], len(page_texts)) if p not in pages_with_images
                 and len(page_texts[p - 1]) > 1500][:2]
    for page in sorted(set(starts + text_only)):
        ink = _ink(pdf, page)
        assert len(page_texts[page - 1]) > 200, f"page {page} has almost no text"
        assert 0.005 < ink.mean() < 0.5, f"page {page}: {ink.mean():.3f} of the page drawn"
    # Measured: text pages ≤ 0.04 of the page height, pages with a figure or still 0.09-0.2.
    for where, _, hits, _ in _sliders(page_texts, images, chapters)[:3]:
        ink = _ink(pdf, hits[0])
        assert _tallest_block(ink) > 0.06, f"{where}: page {hits[0]} shows no picture"
