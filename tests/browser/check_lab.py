"""Run a chapter in a live JupyterLab, in headless Chromium, and check what a reader would see.

    python tests/browser/check_lab.py [--notebook book/06_vae.ipynb] [--limit 5]

It starts JupyterLab (this Python's, in the notebooks' environment ``RUN_ENV``) on a free port
with a fresh token, in a temporary folder that holds a *copy* of one chapter (the book's own
notebooks are never touched), opens the notebook in headless Chromium (offline: every request
to another host fails the check), and checks:

* the installed ``jupyterlab-myst`` is compatible with the installed JupyterLab;
* *Run All* finishes without an error in any cell;
* MyST renders: an exercise's ``:::{admonition}`` shows as an admonition, not as raw markup;
* the first explorer with a *Retrain* button: moving its slider with the keyboard changes the
  picture; typing a value between the slider's values and pressing *Retrain* shows progress
  ("epoch k of n") in the status line, then a new figure within ``--limit`` seconds, and the
  status line's ratio of its error to the sweep's curve lies within 1.25× (either way);
* the browser's console logs no error and the page throws no exception.

The server is shut down (kernels first) and its process group killed at the end, whatever
happened. Exit status 0 when every check passed, 1 when one failed, 2 when it could not run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_book import CHROMIUM_ARGS, find_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# The notebooks' environment: the Makefile's RUN_ENV.
RUN_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "AELIB_DEVICE": "cpu", "AELIB_NUM_THREADS": "2",
           "AELIB_PROGRESS": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYTHONHASHSEED": "0"}
BOUND = 1.25
# Settings for this throw-away JupyterLab: every cell in the page (no windowing, so every
# rendered cell can be found), and no news or update checks (they would reach the network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
# Console errors that are known limitations of the front end, not faults of the book: (start
# of the message, why). Counted, not failed. Keep this list short and specific.
CONSOLE_KNOWN = [
    ("Cross reference target was not found: fig-",
     "jupyterlab-myst resolves {numref} only to targets in markdown cells; the book's figures "
     "are labelled in their code cells' metadata (myst-nb), which the HTML book resolves"),
]
RATIO = re.compile(r"\(ratio ([0-9.]+)\)")
RETRAINED = re.compile(r"Retrained at .* in ([0-9.]+) s")


# ---------------------------------------------------------------------------- pure helpers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def off_slider_value(values: list[str]) -> str:
    """A value between two neighbouring slider values (as text): their geometric mean for
    positive numbers, else the midpoint; a whole number for whole-number sliders."""
    low, high = float(values[0]), float(values[1])
    whole = all(re.fullmatch(r"-?\d+", v) for v in values)
    middle = (low * high) ** 0.5 if low > 0 else (low + high) / 2
    if whole:
        middle = round(middle)
        if middle in (int(low), int(high)):
            raise ValueError(f"no whole number lies between the slider's {values[0]} and {values[1]}")
        return str(middle)
    return f"{middle:.3g}"


def parse_status(text: str) -> tuple[float | None, float | None]:
    """``(seconds, ratio)`` from the explorer's status line after a retrain (``None`` if absent)."""
    seconds = RETRAINED.search(text)
    ratio = RATIO.search(text)
    return (float(seconds.group(1)) if seconds else None, float(ratio.group(1)) if ratio else None)


def myst_compatible(labextension_list: str) -> bool:
    """Whether ``jupyter labextension list`` reports jupyterlab-myst enabled and OK."""
    return any("jupyterlab-myst" in line and "enabled" in line and "OK" in line
               for line in labextension_list.splitlines())


# ---------------------------------------------------------------------------- the server
class Lab:
    """A JupyterLab server on a free port, serving ``root``; stopped by :meth:`stop`."""

    def __init__(self, root: Path, config: Path, log: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        for name, values in LAB_SETTINGS.items():
            path = config / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, **RUN_ENV, "JUPYTERLAB_SETTINGS_DIR": str(config / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(config / "workspaces"),
               "JUPYTER_RUNTIME_DIR": str(config / "runtime"), "PYTHONPATH": ""}
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                   "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command.append("--allow-root")
        self.log = log.open("w")
        # Its own process group, so that stop() can end it and everything it started.
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                self.api("/api/status")
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        return False

    def stop(self):
        """Shut the kernels and the server down; kill what is left of its process group."""
        try:
            if self.process.poll() is None:
                for kernel in self.api("/api/kernels") or []:
                    self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
                self.api("/api/shutdown", method="POST")
                self.process.wait(timeout=15)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired, ValueError):
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


# ---------------------------------------------------------------------------- the browser part
WAIT_KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
}"""
RUN_ALL = """() => {
    window.__runAll = 'running';
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        ok => { window.__runAll = ok === false ? 'stopped' : 'done'; },
        err => { window.__runAll = 'error: ' + err; });
}"""
CELL_ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const errors = []; let unexecuted = 0;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        if (cell.executionCount === null) unexecuted++;
        for (let j = 0; j < cell.outputs.length; j++) {
            const out = cell.outputs.get(j).toJSON();
            if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
        }
    }
    return {errors, unexecuted};
}"""
# Every text the status line shows from now on, in order (the progress passes in a second).
WATCH_STATUS = """(status) => {
    window.__statusSeen = [status.textContent];
    new MutationObserver(() => window.__statusSeen.push(status.textContent))
        .observe(status, {subtree: true, childList: true, characterData: true});
}"""
VISIBLE_IMAGES = ("c => [...c.querySelectorAll('img')].filter(i => i.getClientRects().length > 0)"
                  ".map(i => i.src)")


def check_lab(page, lab: Lab, notebook: str, limit_s: float, problems: list, stats: dict,
              run_timeout_s: float):
    page.goto(f"{lab.url}/lab/tree/{urllib.parse.quote(notebook)}?token={lab.token}")
    page.wait_for_function(WAIT_KERNEL_IDLE, timeout=90_000, polling=500)
    stats["opened"] = f"{time.perf_counter() - stats['t0']:.0f} s"

    # MyST: the exercises' solutions are admonitions, rendered as such by jupyterlab-myst
    # (the hidden editors of rendered markdown cells hold the raw text; innerText skips them).
    # The markdown cells render asynchronously after the kernel is idle: wait for them.
    try:
        page.wait_for_function("() => document.querySelectorAll("
                               "'.jp-Notebook .myst-admonition').length > 0",
                               timeout=60_000, polling=500)
    except Exception:  # noqa: BLE001 (Playwright's TimeoutError; reported just below)
        pass
    if page.evaluate("() => document.querySelector('.jp-Notebook').innerText"
                     ".includes(':::{admonition}')"):
        problems.append("a markdown cell shows ':::{admonition}' as raw text")
    rendered = page.locator(".jp-Notebook .myst-admonition").count()
    if rendered == 0:
        problems.append("no admonition rendered (is jupyterlab-myst working?)")
    stats["admonitions"] = rendered

    start = time.perf_counter()
    page.evaluate(RUN_ALL)
    page.wait_for_function("() => window.__runAll !== 'running'", timeout=run_timeout_s * 1000,
                           polling=1000)
    stats["run all"] = f"{time.perf_counter() - start:.0f} s"
    state = page.evaluate("() => window.__runAll")
    outcome = page.evaluate(CELL_ERRORS)
    if state != "done" or outcome["errors"] or outcome["unexecuted"]:
        problems.append(f"Run All: {state}; errors {outcome['errors']}; "
                        f"{outcome['unexecuted']} code cells not executed")
        return

    # The first explorer with live retraining.
    explorer = page.locator(".jp-OutputArea-output").filter(
        has=page.locator("button", has_text="Retrain")).first
    if explorer.count() == 0:
        problems.append("no explorer with a Retrain button after Run All")
        return
    explorer.scroll_into_view_if_needed()
    handle = explorer.locator(".widget-slider .noUi-handle").first
    before = explorer.evaluate(VISIBLE_IMAGES)
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    readout = explorer.locator(".widget-slider .widget-readout").first  # the value's label
    labels = [readout.inner_text().strip()]
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    try:
        page.wait_for_function(f"([c, old]) => JSON.stringify(({VISIBLE_IMAGES})(c)) "
                               "!== JSON.stringify(old)", arg=[explorer.element_handle(), before],
                               timeout=5000)
    except Exception:  # noqa: BLE001 (Playwright's TimeoutError)
        problems.append("moving the slider did not change the picture")
    labels.append(readout.inner_text().strip())
    stats["slider"] = f"{labels[0]} → {labels[1]}"

    # Retrain between the two slider values just shown.
    values = sorted(labels, key=float)
    value = off_slider_value(values)
    text_box = explorer.locator(".widget-text input").first
    status_handle = explorer.locator(".widget-hbox .widget-html").last.element_handle()
    page.evaluate(WATCH_STATUS, status_handle)
    output_images = explorer.locator(".widget-output img")
    text_box.fill(value)
    clicked = time.perf_counter()
    explorer.locator("button", has_text="Retrain").click()
    try:
        output_images.first.wait_for(state="visible", timeout=max(limit_s, 1) * 4000)
    except Exception:  # noqa: BLE001
        problems.append(f"no retrained figure at {value} within {4 * limit_s:.0f} s")
        return
    wall = time.perf_counter() - clicked
    try:  # the status line follows the figure by a message
        page.wait_for_function("() => /Retrained at|⚠/.test(window.__statusSeen.at(-1))",
                               timeout=5000)
    except Exception:  # noqa: BLE001
        pass
    seen = page.evaluate("() => window.__statusSeen")
    final = seen[-1] if seen else ""
    seconds, ratio = parse_status(final)
    stats["retrain"] = f"at {value}: {wall:.1f} s in the browser, {seconds} s in the kernel, ratio {ratio}"
    if wall > limit_s:
        problems.append(f"the retrained figure took {wall:.1f} s to appear (limit {limit_s:g} s)")
    if not any("epoch" in text or "patches" in text for text in seen):
        problems.append(f"no progress shown while retraining; the status line showed {seen}")
    if ratio is None:
        problems.append(f"the status line gives no ratio to the sweep's curve: {final!r}")
    elif not 1 / BOUND <= ratio <= BOUND:
        problems.append(f"retrained error is {ratio}× the sweep's curve (bound {BOUND}×)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "book" / "06_vae.ipynb",
                        help="the chapter to run (copied; default: the VAE chapter, the quickest)")
    parser.add_argument("--limit", type=float, default=5.0, help="seconds a retrain may take")
    parser.add_argument("--run-timeout", type=float, default=240.0, help="seconds for Run All")
    args = parser.parse_args(argv)

    if not args.notebook.is_file():
        print(f"check_lab: no notebook {args.notebook}")
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("check_lab: no Chromium found; install it (apt-get install chromium) or set CHROMIUM=/path.")
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("check_lab: the python package playwright is missing; run make install.")
        return 2
    problems: list[str] = []
    listing = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"],
                             capture_output=True, text=True)
    if not myst_compatible(listing.stdout + listing.stderr):
        problems.append("jupyter labextension list does not report jupyterlab-myst enabled and OK:\n"
                        + (listing.stdout + listing.stderr).strip())

    stats: dict = {"t0": time.perf_counter()}
    console: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aelib-lab-") as tmp:
        tmp = Path(tmp)
        (tmp / "root").mkdir()
        shutil.copy(args.notebook, tmp / "root" / args.notebook.name)
        lab = Lab(tmp / "root", tmp / "config", tmp / "lab.log")
        try:
            if not lab.wait_ready(60):
                print("check_lab: JupyterLab did not start; its log:\n" + (tmp / "lab.log").read_text())
                return 2
            print(f"check_lab: JupyterLab at {lab.url}, {args.notebook.name} copied into {tmp / 'root'}")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()

                def outside(route):
                    host = urllib.parse.urlsplit(route.request.url).hostname
                    if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
                        return route.continue_()
                    console.append(f"request to another host blocked: {route.request.url}")
                    return route.abort()

                page.route("**/*", outside)
                page.on("console", lambda m: m.type == "error" and console.append(f"console: {m.text}"))
                page.on("pageerror", lambda e: console.append(f"exception: {e}"))
                try:
                    check_lab(page, lab, args.notebook.name, args.limit, problems, stats,
                              args.run_timeout)
                except Exception as err:  # noqa: BLE001 (a Playwright timeout is a failed check)
                    problems.append(f"{type(err).__name__}: {str(err).splitlines()[0]}")
                browser.close()
        finally:
            lab.stop()
    known = [m for m in console if any(m.startswith(f"console: {start}") for start, _ in CONSOLE_KNOWN)]
    problems += [m for m in console if m not in known]
    if known:
        stats["known console errors"] = len(known)
    elapsed = time.perf_counter() - stats.pop("t0")
    print("check_lab: " + "; ".join(f"{k} {v}" for k, v in stats.items()) + f"; {elapsed:.0f} s in all")
    for problem in problems:
        print(f"  ✗ {problem}")
    print("check_lab: " + ("all checks passed" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
