"""Slider explorers that work in the static HTML book *and* live in JupyterLab.

Every slider in the book follows one recipe:

1. precompute a small sweep once — one picture per slider value (:func:`sweep`);
2. show the pictures with :func:`explorer`: a ``SelectionSlider`` whose ``index`` is linked
   *in the browser* (``widgets.jslink``) to the ``selected_index`` of a ``Stack`` of pictures
   (``<img>`` tags with alt text in ``HTML`` widgets). No Python runs when the slider moves, so
   the stored widget state is enough and the slider keeps working on the published HTML pages,
   where there is no kernel;
3. optionally pass ``retrain(value) -> Figure``: in JupyterLab (with a kernel) the reader can
   then type a value that is not on the slider, press *Retrain*, and see the new figure. A
   ``retrain`` that takes a ``progress`` keyword is handed a callback ``progress(done, total)``
   that moves a progress bar and the status line (:func:`fit_with_progress` calls it once an
   epoch); one that returns ``(figure, note)`` adds the note to the status line, e.g. how its
   error compares with the sweep's curve (:func:`curve_at`, :func:`compare_to_curve`).

Pictures are stored as PNG bytes inside the notebook, so keep them small (``dpi`` ≈ 75 and a
modest ``figsize``): a notebook with a few explorers should stay well under a megabyte.

Readers without a widget manager still see a picture: the explorer's output also carries a
*still* (``image/png``: the default frame under a line naming the slider and its values, with the
readout below). The HTML book shows the live slider (myst-nb ranks the widget view first); the
PDF, GitHub's notebook preview, nbviewer and JupyterLab without a kernel show the still. Every
frame is an ``<img>`` with alt text (``alt=``), and the controls shrink to fit a phone's width.

See the preface, section *Running the book*, and the slider of chapter *Undercomplete vs
overcomplete autoencoders*.
"""
from __future__ import annotations

import base64
import html
import inspect
import io
import math
import numbers
import re
import textwrap
import time
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ._checks import callable_arg, instance_of, interval, positive_float, positive_int, real
from .train import History, fit

__all__ = ["DEFAULT_DPI", "PNG_SIGNATURE", "Explorer", "figure_to_png", "sweep", "explorer",
           "fit_with_progress", "curve_at", "compare_to_curve"]

#: Resolution of slider frames: sharp enough on screen, small enough to store many of them.
DEFAULT_DPI = 75
#: The eight bytes every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_to_png(fig: Figure, dpi: float | None = None, *, colors: int | None = None) -> bytes:
    """Render a Matplotlib figure to PNG bytes and close it.

    Closing matters: a sweep draws many figures, and open figures keep their memory (and
    Jupyter would display each of them below the cell).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : float, optional
        Dots per inch; default :data:`DEFAULT_DPI` (75).
    colors : int, optional
        Store the picture with a palette of at most this many colours (2–256) instead of full
        RGBA. ``colors=256`` typically makes a figure of grey images and a few plotted lines
        three to four times smaller with no visible change (transparency is lost; smooth
        colour maps may show faint bands). Default: exact colours.

    Returns
    -------
    bytes
        A PNG file.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 1))
    >>> figure_to_png(fig)[:4]
    b'\\x89PNG'
    """
    instance_of("fig", fig, Figure, "a matplotlib Figure (end your plotting function with `return fig`)")
    buffer = io.BytesIO()
    try:  # the figure is closed even when an option is refused
        dpi = positive_float("dpi", DEFAULT_DPI if dpi is None else dpi)
        colors = None if colors is None else positive_int("colors", colors, minimum=2, maximum=256)
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue() if colors is None else _quantize(buffer.getvalue(), colors)


def _quantize(png: bytes, colors: int) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    # Octree quantisation keeps small areas of a distinct colour (markers, thin lines); median
    # cut would merge them into their neighbours.
    palette = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    # Octree stores white as (254, 254, 254); keep a figure's background exactly white.
    entries = palette.getpalette()
    for k in range(0, len(entries) - 2, 3):
        if min(entries[k:k + 3]) >= 252:
            entries[k:k + 3] = [255, 255, 255]
    palette.putpalette(entries)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _as_png(name: str, frame) -> bytes:
    """A frame (or what ``retrain`` returned) as PNG bytes: a Figure is rendered and closed."""
    if isinstance(frame, Figure):
        return figure_to_png(frame)
    png = bytes(instance_of(name, frame, (bytes, bytearray, memoryview), "a matplotlib Figure or PNG bytes"))
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError(f"{name} is bytes but not a PNG file; pass a Figure or figure_to_png(fig).")
    return png


def sweep(values, make_figure: Callable, *, dpi: float | None = None, colors: int | None = None) -> dict:
    """Draw one frame per slider value: ``{value: figure_to_png(make_figure(value))}``.

    Each figure is closed as soon as it is rendered, so memory stays flat however long the
    sweep. The dict keeps the order of ``values``.

    Parameters
    ----------
    values : sequence
        Slider values, e.g. latent sizes ``[2, 8, 32]``; hashable and distinct.
    make_figure : callable(value) -> matplotlib.figure.Figure
    dpi, colors : optional
        Passed to :func:`figure_to_png`; ``colors=256`` keeps a many-frame slider small.

    Returns
    -------
    dict
        Value → PNG bytes, ready for :func:`explorer`.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> def draw(slope):
    ...     fig, ax = plt.subplots(figsize=(2, 1.5))
    ...     ax.plot([0, 1], [0, slope])
    ...     return fig
    >>> frames = sweep([1, 2, 3], draw)
    >>> list(frames)
    [1, 2, 3]
    """
    callable_arg("make_figure", make_figure, "(value) -> matplotlib Figure")
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a sequence of slider values, got {type(values).__name__}.")
    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one slider value.")
    frames: dict = {}
    for value in values:
        if value in frames:
            raise ValueError(f"values contains {value!r} twice; slider values must be distinct.")
        fig = make_figure(value)
        if not isinstance(fig, Figure):
            if fig is not None:
                plt.close("all")
            raise TypeError(f"make_figure({value!r}) returned {type(fig).__name__}, not a matplotlib "
                            "Figure; end it with `return fig`.")
        frames[value] = figure_to_png(fig, dpi=dpi, colors=colors)
    return frames


def _label(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _value_kind(values) -> type:
    """The type a typed-in custom value must be parsed to: int, float or str."""
    if all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in values):
        return int
    if all(isinstance(v, (numbers.Real, np.number)) and not isinstance(v, bool) for v in values):
        return float
    return str


class Explorer(widgets.VBox):
    """The widget :func:`explorer` returns: a ``VBox`` whose parts are kept as attributes.

    Displayed, it sends the widget view *and* :attr:`still` as ``image/png``: a front end with a
    widget manager shows the slider, any other (PDF, nbviewer, GitHub) the still picture.

    Attributes
    ----------
    slider : ipywidgets.SelectionSlider
    stack : ipywidgets.Stack
        One ``HTML`` widget per slider value, holding the frame as an ``<img>`` with alt text.
    frames : dict
        Slider value → the frame's PNG bytes.
    still : bytes
        PNG of the default frame, with the title and ``description = value`` above it and the
        readout below: what readers without widgets see.
    readouts : ipywidgets.Stack or None
        One ``HTML`` caption per slider value (when ``readout`` was given).
    links : list of ipywidgets.widgets.widget_link.Link
        Browser-side links from ``slider.index`` to the stacks' ``selected_index``.
    value_box, retrain_button, status, progress_bar, output
        The live retrain controls (``None`` without ``retrain``); the progress bar shows only
        while a ``retrain`` that reports progress is training.
    """

    slider = stack = readouts = value_box = retrain_button = status = progress_bar = output = None
    still: bytes | None = None
    frames: dict = {}
    links: list = []
    # Set with the retrain controls: the callback, the type and bounds of typed-in values.
    _retrain = _retrain_range = None
    _kind: type = str
    _reports_progress = False

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.still is not None:
            data["image/png"] = base64.b64encode(self.still).decode("ascii")
        return data

    def __repr__(self) -> str:
        if self.slider is None:
            return "Explorer()"
        live = ", live retrain" if self.retrain_button is not None else ""
        return (f"Explorer({self.slider.description}: {len(self.slider.options)} frames, "
                f"value={self.slider.label}{live})")

    def retrain_at(self, text) -> bool:
        """Do what the *Retrain* button does, for ``text`` typed in the value box.

        Returns ``True`` when a new figure was shown in :attr:`output`.
        """
        if self.value_box is None:
            raise RuntimeError("this explorer has no retrain controls; pass retrain=... to explorer().")
        self.value_box.value = str(text)
        return self._on_retrain(self.retrain_button)

    def _on_retrain(self, button=None) -> bool:
        """The *Retrain* button's handler: parse the typed value, train there, show the figure."""
        setting = self.slider.description
        try:
            custom = _parse(self.value_box.value, self._kind, setting, self._retrain_range)
        except ValueError as err:
            return self._fail(err)
        start = time.perf_counter()
        self.retrain_button.disabled = True
        self.status.value = f"Training at {setting} = {custom} …"
        self.output.outputs = ()
        try:
            result = self._call_retrain(custom, start)
        except ValueError as err:  # retrain's own message, e.g. for a value it cannot train at
            return self._fail(err)
        except Exception as err:  # a callback must not die silently in the browser's log
            return self._fail(f"retraining failed: {type(err).__name__}: {err}")
        finally:
            self.retrain_button.disabled = False
            self.progress_bar.layout.display = "none"
        if result is _CAUGHT:
            return self._fail("retraining failed; see the message below.")
        try:
            figure, note = _split_result(f"retrain({custom!r})", result)
            png = _as_png(f"retrain({custom!r})", figure)
        except (TypeError, ValueError) as err:
            return self._fail(err)
        self._show(png, f"{setting} = {custom}", note, start)
        return True

    def _call_retrain(self, custom, start: float):
        """``retrain(custom)``, handed a progress report when it takes one.

        Inside a kernel the output area shows what ``retrain`` prints and, when it fails, the
        traceback: the output area then swallows the exception and this returns ``_CAUGHT``.
        """
        setting = f"{self.slider.description} = {custom}"

        def report(done, total, unit="epoch"):
            # Widget updates reach the browser at once, even while this cell's callback runs.
            self.progress_bar.layout.display = None
            self.progress_bar.value = min(max(float(done) / float(total), 0.0), 1.0)
            self.status.value = (f"Training at {setting}: {unit} {done} of {total}"
                                 f" ({time.perf_counter() - start:.1f} s) …")

        with self.output:
            return self._retrain(custom, progress=report) if self._reports_progress else self._retrain(custom)
        return _CAUGHT  # reached only when the output area swallowed an exception

    def _show(self, png: bytes, setting: str, note: str, start: float) -> None:
        """The retrained figure in the output area, the time taken and ``note`` in the status line."""
        # The same message a kernel sends for display(Image(png)); built here so that it also
        # works without IPython's shell (tests, scripts).
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                         "text/plain": f"<retrained figure at {setting}>"}},)
        self.status.value = (f"Retrained at {setting} in {time.perf_counter() - start:.1f} s"
                             + (f": {html.escape(note)}" if note else "."))

    def _fail(self, reason) -> bool:
        """Say in the status line why no figure came; ``False``, for the handler to return."""
        self.status.value = f"⚠ {reason}"
        return False


def explorer(frames: Mapping, *, description: str, value=None, title: str | None = None,
             retrain: Callable | None = None, readout=None, retrain_range=None,
             alt=None) -> Explorer:
    """A slider over precomputed pictures that also works without a kernel.

    Parameters
    ----------
    frames : dict
        Slider value → matplotlib Figure or PNG bytes, in slider order (e.g. from :func:`sweep`).
        Figures are rendered and closed here.
    description : str
        What the slider sets, shown beside it (e.g. ``"latent size"``).
    value : optional
        The initial slider value (a key of ``frames``); default the first one.
    title : str, optional
        A heading above the slider.
    retrain : callable(value) -> Figure, optional
        When given, a text box, a *Retrain* button and an output area are added: with a kernel
        the reader can train at a value that is not on the slider. Typed values are parsed to
        the type of the slider values (int or float) and checked against ``retrain_range``;
        a ``ValueError`` raised by ``retrain`` is shown to the reader as the message. If
        ``retrain`` has a parameter ``progress``, it is called as ``retrain(value,
        progress=report)`` where ``report(done, total)`` moves a progress bar and says "epoch
        done of total" in the status line while it trains (pass it on to
        :func:`fit_with_progress`). ``retrain`` may return ``(figure, note)``: the note (a
        string, e.g. from :func:`compare_to_curve`) follows the time in the status line.
    readout : dict or callable(value) -> str, optional
        A caption under each picture (e.g. the test error at that value).
    retrain_range : (low, high), optional
        Inclusive bounds for typed-in values (default: no bounds beyond the type).
    alt : str, dict or callable(value) -> str, optional
        Alt text of each frame's picture, for screen readers: what the picture shows. A string
        is used for every frame, followed by ``(description = value)``. Default: the title (or
        "Picture"), the slider value and the readout.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; display it as the last expression of a cell.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> def draw(k):
    ...     fig, ax = plt.subplots(figsize=(2, 1.5))
    ...     ax.bar(range(k), range(k))
    ...     return fig
    >>> box = explorer(sweep([2, 4, 8], draw), description="bars", value=4)
    >>> box.slider.index
    1
    """
    instance_of("frames", frames, Mapping, "a dict (slider value → Figure or PNG bytes)")
    if not frames:
        raise ValueError("frames is empty; build at least one frame, e.g. with sweep(values, make_figure).")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("description must be a non-empty string saying what the slider sets, e.g. 'latent size'.")
    instance_of("title", title, str, "a string", optional=True)
    callable_arg("retrain", retrain, "(value) -> matplotlib Figure", optional=True)
    instance_of("readout", readout, (Mapping, Callable), "a dict (value → str), a callable(value) -> str",
                optional=True)
    instance_of("alt", alt, (str, Mapping, Callable), "a string, a dict (value → str), a callable(value) -> str",
                optional=True)
    retrain_range = interval("retrain_range", retrain_range, optional=True)
    values = list(frames)
    labels = [_label(v) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"slider values {values!r} give duplicate labels {labels!r}; use distinct values.")
    if value is None:
        value = values[0]
    elif value not in frames:
        raise ValueError(f"value={value!r} is not one of the slider values {values!r}.")
    index = values.index(value)
    texts = None if readout is None else [_readout_text(readout, v) for v in values]
    alts = [_alt_text(alt, v, label, description, title, texts[i] if texts else None)
            for i, (v, label) in enumerate(zip(values, labels))]

    box = Explorer()
    box.frames = {v: _as_png(f"frames[{v!r}]", frames[v]) for v in values}
    parts = _slider_parts(box, labels, index, description, alts, texts)
    if title:
        parts.insert(0, widgets.HTML(f"<b>{title}</b>"))
    if retrain is not None:
        parts.append(_retrain_controls(box, retrain, _value_kind(values), retrain_range))
    box.children = parts
    header = ([title] if title else []) + [
        f"{description} = {labels[index]}  (a still of the slider over {', '.join(labels)}; "
        "move it in the HTML book or in JupyterLab)"]
    box.still = _still_picture(box.frames[value], header, _plain(texts[index]) if texts else None,
                               bold_first=bool(title))
    return box


def _slider_parts(box: Explorer, labels: list, index: int, description: str, alts: list,
                  texts: list | None) -> list:
    """The slider and the stacks it turns (pictures, and readouts if any), linked in the browser."""
    values = list(box.frames)
    box.slider = widgets.SelectionSlider(
        options=list(zip(labels, values)), index=index, description=description,
        continuous_update=True, style={"description_width": "initial"},
        layout=widgets.Layout(width="100%", max_width="420px"),  # narrower on a phone
    )
    # An <img> in an HTML widget rather than an Image widget: it carries alt text, and it
    # shrinks to the width of a phone's screen.
    images = [widgets.HTML(_img_tag(box.frames[v], text)) for v, text in zip(values, alts)]
    # The stack must start on the same page as the slider; jslink only syncs on change.
    box.stack = widgets.Stack(children=images, selected_index=index)
    parts = [box.slider, box.stack]
    box.links = [widgets.jslink((box.slider, "index"), (box.stack, "selected_index"))]
    if texts is not None:
        box.readouts = widgets.Stack(children=[widgets.HTML(t) for t in texts], selected_index=index)
        box.links.append(widgets.jslink((box.slider, "index"), (box.readouts, "selected_index")))
        parts.append(box.readouts)
    return parts


def _plain(markup: str) -> str:
    """Readable text of a short HTML snippet (a readout or a title)."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())


def _readout_text(readout, value) -> str:
    text = readout[value] if isinstance(readout, Mapping) else readout(value)
    if not isinstance(text, str):
        raise TypeError(f"readout for {value!r} is {type(text).__name__}; it must be a string.")
    return text


def _alt_text(alt, value, label: str, description: str, title: str | None, readout: str | None) -> str:
    setting = f"{description} = {label}"
    if alt is None:
        text = f"{_plain(title) if title else 'Picture'} at {setting}"
        return text + (f": {_plain(readout)}" if readout and _plain(readout) else "")
    if isinstance(alt, str):
        return f"{alt} ({setting})"
    text = alt[value] if isinstance(alt, Mapping) else alt(value)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"alt for {value!r} must be a non-empty string, got {text!r}.")
    return text


def _img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}" '
            'style="max-width: 100%; height: auto; background: white">')


def _still_picture(png: bytes, header: list, footer: str | None, *, bold_first: bool = False) -> bytes:
    """The frame with text lines above (``header``) and below (``footer``), as a PNG.

    Drawn on a bare :class:`~matplotlib.figure.Figure` (not pyplot): nothing is shown or left
    open. The frame's pixels are copied unscaled.
    """
    from PIL import Image

    frame = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    height, width = frame.shape[:2]
    dpi, font_pt, pad = 100, 8, 4
    line_px = round(font_pt * 1.5 * dpi / 72)
    chars = max(24, int(width / (0.56 * font_pt * dpi / 72)))  # DejaVu Sans: about 0.56 em a character
    top = [(line, k == 0 and bold_first) for k, text in enumerate(header)
           for line in textwrap.wrap(_plain(text), chars)]
    bottom = textwrap.wrap(footer, chars) if footer else []
    top_px = len(top) * line_px + 2 * pad
    bottom_px = len(bottom) * line_px + 2 * pad if bottom else 0
    total = height + top_px + bottom_px
    fig = Figure(figsize=(width / dpi, total / dpi), dpi=dpi, facecolor="white")
    fig.figimage(frame, xo=0, yo=bottom_px, origin="upper")
    lines = [(text, bold, pad + k * line_px) for k, (text, bold) in enumerate(top)]
    lines += [(text, False, top_px + height + pad + k * line_px) for k, text in enumerate(bottom)]
    for text, bold, y in lines:
        # "$" would start Matplotlib's math mode.
        fig.text(pad / width, 1 - y / total, text.replace("$", r"\$"), fontsize=font_pt, va="top",
                 ha="left", color="black", fontweight="bold" if bold else "normal")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    exact = buffer.getvalue()
    return min(exact, _quantize(exact, 256), key=len)


#: How the value box asks for a value of each kind, and how a wrong one is refused.
_KIND_WORDS = {int: "a whole number", float: "a number", str: "a value"}
#: What :meth:`Explorer._call_retrain` returns when the output area caught retrain's exception.
_CAUGHT = object()


def _parse(text: str, kind: type, description: str, retrain_range):
    """The value typed in the box as a ``kind``, or a ``ValueError`` that tells the reader why not."""
    text = text.strip()
    if not text:
        raise ValueError(f"type a {description} first.")
    try:
        parsed = kind(text)
    except ValueError:
        raise ValueError(f"{description} must be {_KIND_WORDS[kind]}, got {text!r}.") from None
    if kind is float and not math.isfinite(parsed):
        raise ValueError(f"{description} must be finite, got {text!r}.")
    if retrain_range is not None and not retrain_range[0] <= parsed <= retrain_range[1]:
        raise ValueError(f"{description} must lie between {retrain_range[0]} and {retrain_range[1]}, "
                         f"got {parsed}.")
    return parsed


def _takes_progress(retrain) -> bool:
    """Whether ``retrain`` can be called with a ``progress=`` keyword."""
    try:
        parameters = inspect.signature(retrain).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return any(p.name == "progress" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               or p.kind is p.VAR_KEYWORD for p in parameters)


def _split_result(name: str, result):
    """``(figure, note)`` from what ``retrain`` returned: a figure, or a figure and a note."""
    if isinstance(result, tuple):
        if len(result) != 2 or not isinstance(result[1], str):
            for part in result:
                if isinstance(part, Figure):
                    plt.close(part)
            raise TypeError(f"{name} returned a tuple; it must be (figure, note) with a string "
                            "note, or just the figure.")
        return result
    return result, ""


def _retrain_controls(box: Explorer, retrain, kind: type, retrain_range) -> widgets.Widget:
    """The value box, *Retrain* button, status line, progress bar and output area, set on ``box``."""
    box._retrain, box._kind, box._retrain_range = retrain, kind, retrain_range
    box._reports_progress = _takes_progress(retrain)
    hint = _KIND_WORDS[kind] + ("" if retrain_range is None else f" in [{retrain_range[0]}, {retrain_range[1]}]")
    box.value_box = widgets.Text(description=f"custom {box.slider.description}", placeholder=hint,
                                 style={"description_width": "initial"},
                                 layout=widgets.Layout(width="100%", max_width="340px"))
    box.retrain_button = widgets.Button(description="Retrain", icon="refresh",
                                        tooltip="Train a new model at this value (needs a running kernel)")
    # True on the static page (no kernel) and in a running notebook alike.
    box.status = widgets.HTML("<i>Retrain works in a running notebook (Jupyter, Colab, Binder).</i>")
    # Hidden until a retrain reports progress; a widget (not a tqdm bar) so that it shows
    # however the kernel's environment sets AELIB_PROGRESS.
    box.progress_bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="training",
                                             layout=widgets.Layout(display="none", width="100%",
                                                                   max_width="340px"))
    box.output = widgets.Output()
    box.retrain_button.on_click(box._on_retrain)
    # Wrapping, not a scroll bar, when the row is wider than the page (a phone).
    row = widgets.HBox([box.value_box, box.retrain_button, box.status],
                       layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
    return widgets.VBox([row, box.progress_bar, box.output])


# ---------------------------------------------------------------- helpers for retrain callbacks
def fit_with_progress(model, x_train, *, epochs: int, lr: float = 1e-3, progress: Callable | None = None,
                      seed: int = 0, **fit_options) -> History:
    """:func:`aelib.train.fit` with Adam, calling ``progress(done, epochs)`` after each epoch.

    For a ``retrain`` callback of :func:`explorer`: pass on the ``progress`` it receives, and the
    reader sees the epochs go by. It is one call of ``fit`` (its ``on_epoch`` hook moves the
    progress), so it trains exactly as ``fit(..., optimizer="adam", lr=lr)`` would.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (it may be a warm start: a copy of a trained model).
    x_train : tensor (n, d)
    epochs : int
    lr : float
        Adam's learning rate.
    progress : callable(done, total), optional
    seed : int
    **fit_options
        Passed to :func:`aelib.train.fit` (``batch_size``, ``loss``, ``penalty``,
        ``corruption``, ``device``, ``parameters``, …); not ``optimizer``, ``progress`` or
        ``on_epoch``.

    Returns
    -------
    aelib.train.History
    """
    clash = sorted({"optimizer", "progress", "on_epoch"} & set(fit_options))
    if clash:
        raise TypeError(f"fit_with_progress sets {', '.join(clash)} itself; leave "
                        f"{'it' if len(clash) == 1 else 'them'} out of the options.")
    callable_arg("progress", progress, "(done, total)", optional=True)
    on_epoch = None if progress is None else (lambda done, _history: progress(done, epochs))
    return fit(model, x_train, epochs=epochs, lr=lr, optimizer="adam", seed=seed, progress=False,
               on_epoch=on_epoch, **fit_options)


def curve_at(values, errors, value, *, log_x: bool = True, log_y: bool = True) -> float:
    """The sweep's curve ``errors(values)`` at ``value``, interpolated piecewise linearly.

    With ``log_x``/``log_y`` the straight pieces are drawn on log axes (a power law between
    two swept values), as the book plots code sizes and errors; use ``log_x=False`` when the
    sweep includes 0 (e.g. λ = 0). ``value`` must lie within the swept range: outside it the
    sweep says nothing.

    Examples
    --------
    >>> curve_at([1, 4], [8.0, 2.0], 2)   # halfway on log axes: 8 · (2/8)^½
    4.0
    >>> curve_at([0.0, 1.0], [10.0, 20.0], 0.25, log_x=False, log_y=False)
    12.5
    """
    xs = np.asarray(values, dtype=float)
    ys = np.asarray(errors, dtype=float)
    if xs.ndim != 1 or xs.shape != ys.shape or len(xs) < 2:
        raise ValueError(f"values and errors must be two sequences of the same length ≥ 2, got "
                         f"shapes {xs.shape} and {ys.shape}.")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("values and errors must be finite (drop the sweep's missing entries).")
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    if np.any(np.diff(xs) == 0):
        raise ValueError(f"values contains a value twice: {xs.tolist()}.")
    value = float(value)
    if not xs[0] <= value <= xs[-1]:
        raise ValueError(f"{value:g} lies outside the swept range [{xs[0]:g}, {xs[-1]:g}]; the "
                         "sweep's curve is only known between its values.")
    if log_x and xs[0] <= 0:
        raise ValueError("log_x needs positive values; pass log_x=False for a sweep that includes 0.")
    if log_y and np.any(ys <= 0):
        raise ValueError("log_y needs positive errors; pass log_y=False.")
    tx = np.log if log_x else (lambda t: t)
    ty = np.log if log_y else (lambda t: t)
    inner = float(np.interp(tx(value), tx(xs), ty(ys)))
    return float(np.exp(inner)) if log_y else inner


def compare_to_curve(error: float, curve: float, *, name: str = "test error") -> str:
    """A status note: the retrained model's error beside the sweep's curve, and their ratio.

    >>> compare_to_curve(10.5, 10.0)
    "test error 10.5, the sweep's curve there 10 (ratio 1.05)"
    """
    # float() first: an error may come as a 0-d tensor or a NumPy scalar.
    error, curve = real("error", float(error)), positive_float("curve", float(curve))
    return f"{name} {error:.3g}, the sweep's curve there {curve:.3g} (ratio {error / curve:.2f})"
