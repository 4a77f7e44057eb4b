"""Open every page of the built book in headless Chromium, offline, and check that it works.

    python tests/browser/check_book.py _build/html [--only PATTERN] [--screenshots DIR]

The built HTML is served from a local port; every request to any other host is blocked and
counted as a failure, so the check proves the site needs no CDN. For each page it checks:

* no console errors, no uncaught exceptions, no failed or 4xx/5xx requests, no script loaded twice;
* math: every ``.math`` element was typeset by MathJax (an ``mjx-container`` inside, no ``mjx-merror``);
* images: every ``<img>`` loaded (``naturalWidth > 0``), including the ones widgets create;
* widgets: on pages with stored widget state every view rendered, and every slider is visible and
  changes the picture it controls when moved with the keyboard and by dragging its handle;
* exercises: solutions are collapsed by default and open when their toggle is clicked;
* notebook pages: Binder and Colab launch links point at the notebook, and the download
  button serves the ``.ipynb``;
* accessibility: axe-core (the copy inside the ``axe-playwright-python`` package, injected into
  the page: no network; every rule once, text contrast on a sample of each kind of element, in
  both themes) finds no violation of impact "serious" or "critical", except the few
  theme-level ones in ``AXE_KNOWN``, each with its reason; lesser ones are counted. Images whose
  alt text is only a file name (Sphinx's fallback) are listed as lacking alt text;
* any theme and any screen: the page is switched to the dark theme (the reader's system setting,
  which the book follows), checked for text contrast by axe-core and screenshotted, then to a
  390-px-wide phone screen, where it must not scroll sideways (a few pixels, such as a long
  inline formula, are listed as a warning), and screenshotted again.

It prints one line per page and a list of problems, writes screenshots to ``_build/screenshots/``
(``<page>.jpg``, ``<page>_dark.jpg``, ``<page>_phone.jpg``, slider before/after PNGs) and exits
with status 1 if anything failed (2 if it could not run at all).
The functions above ``main`` are pure helpers, tested in ``test_check_book.py``.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "jupyter_execute", "screenshots"}
# Flags that let Debian's Chromium run headless in a container and keep it from phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
    # A second fence behind request interception: no host but loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
WIDGET_STATE = 'script[type="application/vnd.jupyter.widget-state+json"]'
PHONE = {"width": 390, "height": 844}  # CSS pixels of a common phone screen
# A phone page that scrolls sideways further than this fails; less (a long inline formula) is listed.
PHONE_SLACK_PX = 24
# axe-core violations of these impacts fail the check; lesser ones are counted in the report.
AXE_FAIL = ("serious", "critical")
# Violations that come from markup the book does not write, each with its reason: (rule id, a
# CSS fragment of the offending element's selector, why). Keep this list short and specific.
AXE_KNOWN = [
    ("aria-required-children", ".citation-list",
     "docutils writes the bibliography as role=list whose entries are role=doc-biblioentry "
     "(deprecated in ARIA 1.3, and not a listitem); sphinxcontrib-bibtex markup, not the book's"),
]


# ---------------------------------------------------------------------------- pure helpers
def find_pages(html_root: Path) -> list[str]:
    """Every HTML page of the built site, as sorted POSIX paths relative to ``html_root``.

    Asset folders (``_static``, ``_sources``, ...) are skipped: they hold no reader-facing pages.
    """
    html_root = Path(html_root)
    pages = []
    for path in html_root.rglob("*.html"):
        rel = path.relative_to(html_root)
        if rel.parts[0] in SKIP_DIRS:
            continue
        pages.append(rel.as_posix())
    return sorted(pages)


_REFRESH = re.compile(r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\s*\d+\s*;\s*url=([^"']+)["']""",
                      re.IGNORECASE)


def redirect_target(html_root: Path, page: str) -> str | None:
    """For a redirect-only page (a meta refresh and nothing to read, like the root ``index.html``
    jupyter-book writes), the page it sends the reader to, relative to ``html_root``; else None.

    Such pages are checked without a browser: in one, the refresh races every wait of the
    checks (it navigated away mid-check once and hung the browser session).
    """
    text = (Path(html_root) / page).read_text(encoding="utf-8", errors="replace")
    match = _REFRESH.search(text)
    if not match or len(text.strip()) > len(match.group(0)) + 200:
        return None
    target = urllib.parse.urljoin(page, match.group(1).strip())
    return target.split("#")[0]


def is_local_url(url: str, origin: str) -> bool:
    """True for requests the offline site may make: its own origin, or in-page data/blob URLs."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("data", "blob", "about"):
        return True
    return url == origin or url.startswith(origin.rstrip("/") + "/")


def screenshot_name(page: str, suffix: str = "", ext: str = "png") -> str:
    """File name for a page's screenshot: ``book/03_sparse.html`` -> ``book__03_sparse.png``."""
    stem = page[:-5] if page.endswith(".html") else page
    return stem.replace("/", "__") + (f"_{suffix}" if suffix else "") + f".{ext}"


def source_notebook(html_root: Path, page: str) -> str | None:
    """The notebook a page was built from (``book/03_sparse.ipynb``), or None for other pages.

    jupyter-book copies each source into ``_sources/`` under its own name, so a page comes from a
    notebook exactly when ``_sources/<page stem>.ipynb`` exists.
    """
    stem = page[:-5] if page.endswith(".html") else page
    candidate = f"{stem}.ipynb"
    return candidate if (Path(html_root) / "_sources" / candidate).is_file() else None


def duplicates(urls: list[str]) -> list[str]:
    """URLs (query strings ignored) that occur more than once, in first-seen order."""
    seen: dict[str, int] = {}
    for url in urls:
        key = urllib.parse.urlsplit(url)._replace(query="", fragment="").geturl()
        seen[key] = seen.get(key, 0) + 1
    return [url for url, count in seen.items() if count > 1]


def known_violation(rule: str, target: str) -> str | None:
    """The reason a violation is accepted (see ``AXE_KNOWN``), or None for one that counts."""
    for known_rule, fragment, reason in AXE_KNOWN:
        if rule == known_rule and fragment in target:
            return reason
    return None


def axe_problems(violations: list[dict]) -> tuple[list[str], dict[str, int]]:
    """Split axe-core's ``violations`` into failures (impact in ``AXE_FAIL``, not known) and a
    count of the rest by rule id (known ones and lesser impacts)."""
    problems, counted = [], {}
    for violation in violations:
        rule, impact = violation["id"], violation.get("impact") or "minor"
        for node in violation.get("nodes", []):
            target = " ".join(str(t) for t in node.get("target", []))
            if impact in AXE_FAIL and not known_violation(rule, target):
                problems.append(f"accessibility ({impact}) {rule}: {violation.get('help', '')} "
                                f"at {short(target, 80)}")
            else:
                counted[rule] = counted.get(rule, 0) + 1
    return problems, counted


_FILE_NAME = re.compile(r"(^|/)[^/\s]+\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)


def lacks_alt(alt: str | None) -> bool:
    """True when an image's alt text says nothing: absent, empty, or a file name (what Sphinx
    writes when a figure has no alt text)."""
    return not alt or not alt.strip() or bool(_FILE_NAME.search(alt.strip()))


def short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- the local server
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".woff2": "font/woff2", ".woff": "font/woff",
                      ".svg": "image/svg+xml", ".ipynb": "application/x-ipynb+json"}

    def log_message(self, format, *args):  # keep the report readable
        pass


def serve(html_root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``html_root`` on a free loopback port in a daemon thread; returns (server, origin)."""
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


# ---------------------------------------------------------------------------- page checks
@dataclass
class PageResult:
    page: str
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    seconds: float = 0.0
    axe: dict = field(default_factory=dict)  # rule id → violations not failed (known or lesser)
    no_alt: int = 0  # visible images without a real alt text
    warnings: list[str] = field(default_factory=list)  # reported, not failed
    extra_seconds: float = 0.0  # spent on accessibility, dark theme and phone width

    def line(self) -> str:
        status = "ok  " if not self.problems else "FAIL"
        parts = [f"{key} {value}" for key, value in self.stats.items()]
        return f"{status} {self.page:<48} {self.seconds:5.1f} s  " + "  ".join(parts)


def _wait(page, expression: str, timeout_ms: int, arg=None) -> bool:
    try:
        page.wait_for_function(expression, arg=arg, timeout=timeout_ms)
        return True
    except Exception:  # playwright's TimeoutError; the caller words the problem
        return False


def check_math(page, result: PageResult, timeout_ms: int) -> None:
    n_math = page.locator(".math").count()
    if n_math == 0:
        return
    if not _wait(page, "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout_ms):
        result.problems.append(f"{n_math} math elements but MathJax did not start")
        return
    page.evaluate("async () => { await MathJax.startup.promise; }")
    untypeset = page.evaluate(
        "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))"
        ".map(e => e.textContent)")
    errors = page.evaluate(
        "() => [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error')"
        " || e.textContent)")
    # MathJax's noundefined extension shows an unknown macro as red text instead of an error.
    errors += [f"undefined macro {name}" for name in page.evaluate(
        r"""() => { const names = [];
            for (const item of MathJax.startup.document.math) {
                const mml = MathJax.startup.toMML(item.root);
                for (const m of mml.matchAll(/<mtext mathcolor="red">(\\[^<]*)<\/mtext>/g)) names.push(m[1]);
            }
            return names; }""")]
    for tex in untypeset[:5]:
        result.problems.append(f"math not typeset: {short(tex, 80)}")
    for message in errors[:5]:
        result.problems.append(f"MathJax error: {short(message, 100)}")
    result.stats["math"] = f"{n_math - len(untypeset)}/{n_math}"


def check_widgets(page, result: PageResult, timeout_ms: int) -> None:
    n_views = page.locator(WIDGET_VIEW).count()
    if page.locator(WIDGET_STATE).count() == 0 and n_views == 0:
        return
    # The HTML manager renders each view into a .widget-subarea inserted before its <script>.
    if not _wait(page, "n => document.querySelectorAll('.widget-subarea > *').length >= n", timeout_ms, n_views):
        rendered = page.locator(".widget-subarea > *").count()
        result.problems.append(f"only {rendered} of {n_views} widget views rendered (widget manager not working?)")
    result.stats["widgets"] = n_views


def _visible_image_sources(container) -> list[str]:
    return container.evaluate(
        "c => [...c.querySelectorAll('img')].filter(i => i.getClientRects().length > 0).map(i => i.src)")


def _shot(page, element, path: Path, pad: int = 8) -> bytes:
    """Screenshot of an element with a small margin (labels may overhang its box by a pixel)."""
    box = element.bounding_box()
    clip = {"x": max(box["x"] - pad, 0), "y": max(box["y"] - pad, 0),
            "width": box["width"] + 2 * pad, "height": box["height"] + 2 * pad}
    return page.screenshot(path=str(path), clip=clip)


def check_sliders(page, result: PageResult, shots: Path, timeout_ms: int) -> None:
    sliders = page.locator(".widget-subarea .widget-slider")
    n_sliders = sliders.count()
    if n_sliders == 0:
        return
    moved = 0
    for i in range(n_sliders):
        label = f"slider {i + 1}"
        slider = sliders.nth(i)
        slider.scroll_into_view_if_needed()
        handle = slider.locator(".noUi-handle")
        box = slider.bounding_box()
        if not handle.count() or not handle.first.is_visible() or not box or box["width"] < 50:
            result.problems.append(f"{label} is not visible")
            continue
        handle = handle.first
        # The slider's explorer: the nearest enclosing box that also holds a picture.
        container = slider.locator("xpath=ancestor::div[contains(@class,'widget-box')][.//img][1]")
        if container.count() == 0:
            result.problems.append(f"{label} controls no picture (a slider that needs a kernel is dead here)")
            continue
        before_src = _visible_image_sources(container)
        before_png = _shot(page, container, shots / screenshot_name(result.page, f"slider{i + 1}_before"))
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
        changed = _wait(page, "([c, old]) => { const now = [...c.querySelectorAll('img')]"
                        ".filter(i => i.getClientRects().length > 0).map(i => i.src);"
                        " return JSON.stringify(now) !== JSON.stringify(old); }",
                        3000, [container.element_handle(), before_src])
        after_png = _shot(page, container, shots / screenshot_name(result.page, f"slider{i + 1}_after"))
        if not changed:
            result.problems.append(f"{label}: the arrow key did not change the displayed image")
            continue
        if after_png == before_png:
            result.problems.append(f"{label}: image source changed but the screenshot did not")
            continue
        # Drag the handle to the other end with the mouse: the picture must change again.
        after_key_src = _visible_image_sources(container)
        hbox = handle.bounding_box()
        track = slider.locator(".noUi-base").bounding_box()
        target_x = track["x"] + 2 if not at_end else track["x"] + track["width"] - 2
        page.mouse.move(hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2)
        page.mouse.down()
        page.mouse.move(target_x, hbox["y"] + hbox["height"] / 2, steps=8)
        page.mouse.up()
        if not _wait(page, "([c, old]) => { const now = [...c.querySelectorAll('img')]"
                     ".filter(i => i.getClientRects().length > 0).map(i => i.src);"
                     " return now.length > 0 && JSON.stringify(now) !== JSON.stringify(old); }",
                     3000, [container.element_handle(), after_key_src]):
            result.problems.append(f"{label}: dragging the handle did not change the displayed image")
            continue
        moved += 1
    result.stats["sliders"] = f"{moved}/{n_sliders} moved"


def check_images(page, result: PageResult, timeout_ms: int) -> None:
    page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    _wait(page, "() => [...document.images].every(i => i.complete)", timeout_ms)
    images = page.evaluate("() => [...document.images].map(i => [i.currentSrc || i.src, i.naturalWidth])")
    broken = [src for src, width in images if width == 0]
    for src in broken[:5]:
        result.problems.append(f"image did not load: {short(src, 100)}")
    if images:
        result.stats["img"] = f"{len(images) - len(broken)}/{len(images)}"


def check_solutions(page, result: PageResult) -> None:
    info = page.evaluate("""() => {
        // sphinx-togglebutton hides a solution with height 0 and visibility hidden.
        const visible = e => e.getBoundingClientRect().height > 0
            && e.checkVisibility({visibilityProperty: true, opacityProperty: true});
        const body = a => [...a.children].filter(c => !c.classList.contains('admonition-title'));
        const all = [...document.querySelectorAll('.admonition')].filter(a => {
            const t = a.querySelector('.admonition-title');
            return t && t.textContent.trim().toLowerCase().startsWith('solution'); });
        return {
            total: all.length,
            open: all.filter(a => body(a).some(visible)).map(a => a.textContent.trim().slice(0, 60)),
            toggles: all.filter(a => a.querySelector('button.toggle-button')).length,
            exercises: [...document.querySelectorAll('section > h2, section > h3')]
                .some(h => /^exercises?\\b/i.test(h.textContent.trim())),
        };
    }""")
    for text in info["open"][:5]:
        result.problems.append(f"solution shown open by default: {short(text, 60)}")
    if info["total"] and info["toggles"] < info["total"]:
        result.problems.append(f"{info['total'] - info['toggles']} solution(s) without a toggle button")
    if info["exercises"] and info["total"] == 0:
        result.problems.append("an Exercises section without any hidden Solution block")
    if not info["toggles"]:
        return
    # Clicking a toggle must reveal its solution.
    first = page.locator(".admonition.dropdown button.toggle-button").first
    first.scroll_into_view_if_needed()
    first.click()
    if not _wait(page, """() => { const a = document.querySelector('.admonition.dropdown');
            return [...a.children].filter(c => !c.classList.contains('admonition-title'))
                .some(c => c.getBoundingClientRect().height > 0 && c.checkVisibility(
                    {visibilityProperty: true, opacityProperty: true})); }""", 3000):
        result.problems.append("clicking a solution's toggle did not show it")
    collapsed = info["total"] - len(info["open"])
    result.stats["solutions"] = f"{collapsed}/{info['total']} collapsed"


def check_notebook_links(page, result: PageResult, origin: str, notebook: str) -> None:
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/")]
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/")]
    for name, links in (("Binder", binder), ("Colab", colab)):
        if not links:
            result.problems.append(f"no {name} launch button")
        elif not links[0].endswith("/" + notebook) or "/./" in links[0]:
            result.problems.append(f"{name} link does not point at {notebook}: {short(links[0], 100)}")
    downloads = [h for h in hrefs if is_local_url(h, origin) and h.endswith(".ipynb")]
    if not downloads:
        result.problems.append("no download button for the notebook")
        return
    try:
        with urllib.request.urlopen(downloads[0], timeout=10) as response:
            cells = json.load(response).get("cells")
        if not cells:
            raise ValueError("no cells")
    except Exception as err:
        result.problems.append(f"download {short(downloads[0], 80)} failed: {err}")
        return
    result.stats["launch"] = "binder+colab+ipynb"


# Text contrast comes from the theme's colours, the same for every paragraph and formula, so axe
# checks it on a sample of each kind of element: about 2 s a chapter instead of 16 s for the
# thousands of MathJax and code spans (measured on this 2-core machine).
CONTRAST_SAMPLE = """() => { const pick = (selector, n) => [...document.querySelectorAll(selector)].slice(0, n);
    return [...pick('.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .prev-next-area', 4),
            ...pick('article p', 4), ...pick('article li', 2), ...pick('article h1, article h2', 2),
            ...pick('article a', 2), ...pick('.cell_input', 2), ...pick('.cell_output', 2),
            ...pick('.widget-subarea', 2), ...pick('.admonition', 2), ...pick('article table', 1),
            ...pick('figcaption, .caption', 1)]; }"""


def run_axe(page, *, contrast: bool) -> list[dict]:
    """axe-core's violations on the page as it stands: every rule but text contrast, or (with
    ``contrast``) text contrast on ``CONTRAST_SAMPLE``. The script must have been injected. No CSS
    preload: axe would re-fetch @import-ed sheets relative to the wrong folder (a 404) and only
    css-orientation-lock reads them."""
    options = {"resultTypes": ["violations"], "preload": False}
    if contrast:
        options["runOnly"] = {"type": "rule", "values": ["color-contrast"]}
    else:
        options["rules"] = {"color-contrast": {"enabled": False}}
    return page.evaluate("""async ([options, sample]) => {
        const context = sample ? {include: (new Function('return ' + sample))()()} : document;
        if (sample && !context.include.length) return [];
        const r = await axe.run(context, options);
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => ({target: n.target}))})); }""",
                         [options, CONTRAST_SAMPLE if contrast else None])


def check_accessibility(page, result: PageResult, axe_script: str) -> None:
    """axe-core on the page as it stands (light theme, desktop width): every rule once, text
    contrast on a sample."""
    page.evaluate(axe_script)
    problems, counted = axe_problems(run_axe(page, contrast=False) + run_axe(page, contrast=True))
    result.problems += problems
    result.stats["axe"] = f"{len(problems)} serious" + (f" ({sum(counted.values())} lesser)" if counted else "")
    result.axe = counted
    missing = page.evaluate("""() => [...document.images]
        .filter(i => i.getClientRects().length > 0 && i.getAttribute('role') !== 'presentation')
        .map(i => i.getAttribute('alt'))""")
    result.no_alt = sum(lacks_alt(alt) for alt in missing)
    if result.no_alt:
        result.stats["no-alt"] = result.no_alt


def check_dark_and_phone(page, result: PageResult, shots: Path, axe_ready: bool) -> None:
    """The dark theme (text contrast by axe-core, a screenshot), then a phone's width (a
    screenshot; the page must not scroll sideways)."""
    page.emulate_media(color_scheme="dark")
    if not _wait(page, "() => document.documentElement.dataset.theme === 'dark'", 3000):
        result.problems.append("the page did not follow the reader's dark setting (html_context default_mode?)")
    page.wait_for_timeout(300)  # the theme's colour transitions (0.15 s) end
    if axe_ready:
        problems, counted = axe_problems(run_axe(page, contrast=True))
        result.problems += [p.replace("accessibility", "accessibility in the dark theme", 1) for p in problems]
        for rule, count in counted.items():
            result.axe[f"{rule} (dark)"] = result.axe.get(f"{rule} (dark)", 0) + count
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / screenshot_name(result.page, "dark", "jpg")), full_page=True,
                    type="jpeg", quality=70)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(PHONE)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.evaluate("() => window.scrollTo(0, 0)")
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if wide > 1:
        culprits = page.evaluate("""() => [...document.querySelectorAll('article *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && getComputedStyle(e).position !== 'fixed')
            .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
            .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : ''))""")
        message = (f"at {PHONE['width']} px the page scrolls sideways by {wide} px "
                   f"({', '.join(culprits) or 'cause not found'})")
        if wide > PHONE_SLACK_PX:
            result.problems.append(message)
        else:
            result.warnings.append(message)
    page.screenshot(path=str(shots / screenshot_name(result.page, "phone", "jpg")), type="jpeg", quality=70)
    slider = page.locator(".widget-subarea .widget-slider")
    if slider.count():
        slider.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / screenshot_name(result.page, "phone_slider", "jpg")),
                        type="jpeg", quality=70)
    result.stats["dark+phone"] = "ok" if wide <= 1 else f"+{wide}px"


def check_page(context, origin: str, html_root: Path, page_name: str, shots: Path,
               timeout_ms: int, axe_script: str | None = None) -> PageResult:
    result = PageResult(page_name)
    start = time.perf_counter()
    target = redirect_target(html_root, page_name)
    if target is not None:
        result.stats["redirect"] = target
        if not (Path(html_root) / target).is_file():
            result.problems.append(f"redirects to a missing page: {target}")
        result.seconds = time.perf_counter() - start
        return result
    blocked: list[str] = []
    scripts: list[str] = []
    page = context.new_page()

    def route(route):
        url = route.request.url
        if is_local_url(url, origin):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: msg.type == "error" and result.problems.append(
        f"console error: {short(msg.text)} ({short(msg.location.get('url', ''), 80)})"))
    page.on("pageerror", lambda err: result.problems.append(f"uncaught exception: {short(err)}"))
    page.on("response", lambda r: r.status >= 400 and result.problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("requestfailed", lambda r: r.url not in blocked and result.problems.append(
        f"request failed: {short(r.url)} ({r.failure})"))
    page.on("request", lambda r: r.resource_type == "script" and scripts.append(r.url))
    try:
        page.goto(f"{origin}/{page_name}", wait_until="load", timeout=timeout_ms)
        check_math(page, result, timeout_ms)
        check_widgets(page, result, timeout_ms)
        check_images(page, result, timeout_ms)
        try:
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
        except Exception:
            result.problems.append("network did not go idle")
        # Whole page as the reader first sees it (JPEG: a long chapter encodes twice as fast).
        page.screenshot(path=str(shots / screenshot_name(page_name, ext="jpg")), full_page=True,
                        type="jpeg", quality=70)
        check_sliders(page, result, shots, timeout_ms)
        check_solutions(page, result)
        notebook = source_notebook(html_root, page_name)
        if notebook:
            check_notebook_links(page, result, origin, notebook)
        extra_start = time.perf_counter()
        if axe_script:
            check_accessibility(page, result, axe_script)
        check_dark_and_phone(page, result, shots, axe_ready=bool(axe_script))
        result.extra_seconds = time.perf_counter() - extra_start
    except Exception as err:  # a crash on one page must not hide the others
        result.problems.append(f"check crashed: {type(err).__name__}: {short(err, 200)}")
    finally:
        page.close()
    for url in dict.fromkeys(blocked):
        result.problems.append(f"blocked request to another host: {short(url)}")
    for url in duplicates(scripts):
        result.problems.append(f"script loaded twice: {short(url)}")
    result.seconds = time.perf_counter() - start
    return result


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome"),
                      "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def load_axe() -> str | None:
    """The axe-core script shipped inside the ``axe-playwright-python`` package (no download)."""
    try:
        import axe_playwright_python
    except ImportError:
        return None
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_root", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("--only", default="", help="check only pages whose path contains this text")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="screenshot folder (default: <html_root>/../screenshots)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each step")
    args = parser.parse_args(argv)

    html_root = args.html_root.resolve()
    pages = [p for p in find_pages(html_root) if args.only in p] if html_root.is_dir() else []
    if not pages:
        print(f"check_book: no HTML pages under {args.html_root}; build the book first (make book).")
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("check_book: no Chromium found; install it (apt-get install chromium) or set CHROMIUM=/path.")
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("check_book: the python package playwright is missing; run make install.")
        return 2
    axe_script = load_axe()
    if axe_script is None:
        print("check_book: the python package axe-playwright-python (axe-core) is missing; run make install.")
        return 2
    shots = (args.screenshots or html_root.parent / "screenshots").resolve()
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)

    server, origin = serve(html_root)
    timeout_ms = int(args.timeout * 1000)
    start = time.perf_counter()
    results = []
    print(f"check_book: {len(pages)} pages from {args.html_root}, served at {origin}, "
          f"offline, in {chromium}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          service_workers="block")
            context.set_default_timeout(timeout_ms)
            for page_name in pages:
                result = check_page(context, origin, html_root, page_name, shots, timeout_ms, axe_script)
                print(result.line(), flush=True)
                results.append(result)
            browser.close()
    finally:
        server.shutdown()
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r.problems]
    sliders = sum(int(r.stats.get("sliders", "0/0").split("/")[0]) for r in results)
    print(f"check_book: {len(results)} pages in {elapsed:.1f} s, {sliders} sliders moved, "
          f"screenshots in {shots}")
    lesser: dict[str, int] = {}
    for r in results:
        for rule, count in r.axe.items():
            lesser[rule] = lesser.get(rule, 0) + count
    if lesser:
        print("check_book: accessibility, not failed (lesser impact or known theme markup, see AXE_KNOWN): "
              + ", ".join(f"{rule} {n}" for rule, n in sorted(lesser.items())))
    no_alt = [f"{r.page} ({r.no_alt})" for r in results if r.no_alt]
    if no_alt:
        print("check_book: images without alt text (a file name or nothing): " + ", ".join(no_alt))
    for r in results:
        for warning in r.warnings:
            print(f"check_book: warning: {r.page}: {warning}")
    print(f"check_book: accessibility, dark theme and phone width took "
          f"{sum(r.extra_seconds for r in results):.1f} s of the {elapsed:.1f} s")
    if failed:
        print(f"check_book: FAILED on {len(failed)} page(s):")
        for r in failed:
            for problem in r.problems:
                print(f"  {r.page}: {problem}")
        return 1
    print("check_book: all pages passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
