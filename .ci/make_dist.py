"""Zip the book for reading without a network: `make dist`.

    python .ci/make_dist.py _build/html _build/dist/autoencoders-offline.zip

The archive holds one folder, ``autoencoders/``, with

* ``html/``      the built site as `make book` leaves it: MathJax, the widget manager and every
                 picture are local files, so the pages, formulas and sliders work offline;
* ``notebooks/`` the chapters as Jupyter notebooks, with their stored outputs (and, to run them,
                 ``src/``, ``pyproject.toml`` and ``requirements.txt``);
* ``README.txt`` how to open both.

It refuses a site that was built to load its scripts from CDNs (``BOOK_CDN=1``): that one needs
the network.
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = "autoencoders"
README = """\
Autoencoders - an executable textbook, offline edition
======================================================

Read the book: open html/index.html in a web browser (double-click it). Nothing is loaded
from the network: formulas, figures and the sliders work offline. If your browser refuses
local files, serve the folder instead:

    python3 -m http.server --directory html 8000     then open http://localhost:8000

The chapters as Jupyter notebooks, with all their outputs stored, are in notebooks/; any
notebook viewer shows them (a slider shows as its still picture there). To run them, install
the book's library and its requirements once (this step needs the network):

    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
    .venv/bin/jupyter lab notebooks/

The PDF of the whole book is published beside this archive (make pdf).
"""


def bundle(html_root: Path, out: Path) -> dict:
    html_root = Path(html_root)
    if not (html_root / "index.html").is_file():
        raise SystemExit(f"make_dist: no built site at {html_root}; run `make book` first.")
    pages = sorted(p for p in html_root.rglob("*.html")
                   if p.relative_to(html_root).parts[0] not in ("_static", "_sources"))
    if any("cdn.jsdelivr.net" in p.read_text(encoding="utf-8", errors="replace") for p in pages):
        raise SystemExit("make_dist: this site loads scripts from a CDN (BOOK_CDN=1); build it with "
                         "plain `make book` for the offline bundle.")
    files: list[tuple[Path, str]] = []
    files += [(p, f"{TOP}/html/{p.relative_to(html_root).as_posix()}")
              for p in sorted(html_root.rglob("*")) if p.is_file() and p.name != ".buildinfo"]
    files += [(p, f"{TOP}/notebooks/{p.name}") for p in sorted((ROOT / "book").glob("*.ipynb"))]
    files += [(p, f"{TOP}/{p.relative_to(ROOT).as_posix()}") for p in sorted((ROOT / "src").rglob("*.py"))]
    files += [(ROOT / name, f"{TOP}/{name}") for name in ("pyproject.toml", "requirements.txt")]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr(f"{TOP}/README.txt", README)
        for path, name in files:
            archive.write(path, name)
    partial.replace(out)  # no half-written bundle under the real name
    return {"files": len(files) + 1, "notebooks": sum(n.startswith(f"{TOP}/notebooks/") for _, n in files),
            "pages": len(pages), "bytes": out.stat().st_size}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    info = bundle(Path(argv[0]), Path(argv[1]))
    print(f"make dist: {argv[1]}, {info['bytes'] / 1e6:.1f} MB: {info['pages']} HTML pages, "
          f"{info['notebooks']} notebooks, {info['files']} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
