"""Tests for aelib.widgets: what the explorer builds, and how it refuses bad input."""
import base64
import html
import io
import re

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from ipywidgets.widgets.widget_link import Link  # noqa: E402

from aelib import widgets as aew  # noqa: E402


def draw(value, size=(2.0, 1.5)):
    fig, ax = plt.subplots(figsize=size)
    ax.plot([0, 1], [0, float(value)])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig


def img_png(markup: str) -> bytes:
    """The PNG inside the one ``<img src="data:image/png;base64,...">`` of a frame's HTML."""
    (data,) = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', markup)
    return base64.b64decode(data)


def img_alt(markup: str) -> str:
    (alt,) = re.findall(r'<img [^>]*alt="([^"]*)"', markup)
    return html.unescape(alt)


def decode_png(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()  # raises on a truncated or corrupt file
    return image


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    plt.close("all")


def test_figure_to_png_is_a_valid_png_at_the_requested_dpi_and_closes_the_figure():
    fig = draw(1, size=(2.0, 1.0))
    assert plt.fignum_exists(fig.number)
    data = aew.figure_to_png(fig, dpi=50)
    assert not plt.fignum_exists(fig.number)
    assert data.startswith(aew.PNG_SIGNATURE)
    image = decode_png(data)
    assert image.format == "PNG"
    # bbox_inches="tight" trims or pads a little; the size still follows the dpi (2 in × 50 dpi).
    assert 60 <= image.size[0] <= 120 and 30 <= image.size[1] <= 70
    bigger = decode_png(aew.figure_to_png(draw(1, size=(2.0, 1.0)), dpi=100))
    assert bigger.size[0] > 1.7 * image.size[0]


def test_palette_pngs_are_smaller_keep_the_size_and_keep_distinct_colours():
    def busy():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.imshow(np.random.default_rng(0).random((28, 28)), cmap="gray")
        ax.plot([0, 27], [0, 27], color="red", lw=3)
        return fig

    exact, palette = aew.figure_to_png(busy()), aew.figure_to_png(busy(), colors=256)
    assert len(palette) < 0.7 * len(exact)
    a, b = decode_png(exact), decode_png(palette)
    assert a.size == b.size and b.mode == "P" and len(b.getcolors(300)) <= 256
    # The red line survives quantisation (octree keeps rare, distinct colours).
    assert any(r > 200 and g < 60 and bl < 60 for _, (r, g, bl) in b.convert("RGB").getcolors(300))
    frames = aew.sweep([1, 2], lambda v: busy(), colors=64)
    assert all(len(decode_png(f).getcolors(300)) <= 64 for f in frames.values())
    for bad in (1, 300, 2.5, True):
        with pytest.raises(ValueError, match="colors"):
            aew.figure_to_png(busy(), colors=bad)


def test_figure_to_png_rejects_non_figures_and_bad_dpi():
    with pytest.raises(TypeError, match="matplotlib Figure"):
        aew.figure_to_png(np.zeros((2, 2)))
    for bad in (0, -3, float("nan"), "75", True):
        with pytest.raises(ValueError, match="dpi"):
            aew.figure_to_png(draw(1), dpi=bad)
    assert not plt.get_fignums()  # closed even when rejected after creation


def test_sweep_builds_one_png_per_value_in_order_and_closes_everything():
    calls = []

    def make(v):
        calls.append(v)
        return draw(v)

    frames = aew.sweep([8, 2, 4], make)
    assert list(frames) == [8, 2, 4] and calls == [8, 2, 4]
    for data in frames.values():
        assert decode_png(data).format == "PNG"
    assert not plt.get_fignums()


def test_sweep_errors():
    with pytest.raises(ValueError, match="empty"):
        aew.sweep([], draw)
    with pytest.raises(ValueError, match="twice"):
        aew.sweep([1, 1], draw)
    with pytest.raises(TypeError, match="callable"):
        aew.sweep([1], "draw")
    with pytest.raises(TypeError, match="sequence"):
        aew.sweep(5, draw)
    with pytest.raises(TypeError, match="return fig"):
        aew.sweep([1], lambda v: None)


def test_explorer_builds_slider_stack_and_browser_side_link():
    values = [2, 8, 32, 128]
    frames = {v: draw(v) for v in values}
    frames[128] = aew.figure_to_png(frames[128])  # Figures and PNG bytes may be mixed
    box = aew.explorer(frames, description="latent size", value=32, title="Bottleneck")
    assert isinstance(box, widgets.VBox)
    assert not plt.get_fignums()  # the figures were rendered and closed

    slider, stack = box.slider, box.stack
    assert isinstance(slider, widgets.SelectionSlider)
    assert slider.description == "latent size"
    assert list(slider.options) == [("2", 2), ("8", 8), ("32", 32), ("128", 128)]
    assert slider.index == 2 and slider.label == "32" and slider.value == 32
    assert isinstance(stack, widgets.Stack) and stack.selected_index == 2
    assert len(stack.children) == 4
    assert all(isinstance(pic, widgets.HTML) for pic in stack.children)
    for pic in stack.children:
        assert decode_png(img_png(pic.value)).format == "PNG"
    # Frame i of the stack is the picture of value i.
    assert img_png(stack.children[3].value) == frames[128] == box.frames[128]
    assert list(box.frames) == values

    # The link lives in the browser (a Link widget model), not in a Python observer.
    (link,) = box.links
    assert isinstance(link, Link) and link._model_name == "LinkModel"
    assert link.source == (slider, "index") and link.target == (stack, "selected_index")
    assert slider in box.children and stack in box.children
    assert any(isinstance(c, widgets.HTML) and "Bottleneck" in c.value for c in box.children)
    # No retrain controls unless asked for.
    assert box.retrain_button is None and box.output is None
    assert repr(box) == "Explorer(latent size: 4 frames, value=32)"
    assert not any(isinstance(w, (widgets.Button, widgets.Output, widgets.Text)) for w in _walk(box))


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_explorer_default_value_is_first_and_float_labels_are_short():
    box = aew.explorer(aew.sweep([0.1, 0.25, 1.0], draw), description="noise std")
    assert box.slider.index == 0 and box.stack.selected_index == 0
    assert [label for label, _ in box.slider.options] == ["0.1", "0.25", "1"]
    assert box.slider.value == 0.1


def test_explorer_readout_is_a_second_linked_stack():
    frames = aew.sweep([1, 2], draw)
    box = aew.explorer(frames, description="k", value=2, readout={1: "error 3.0", 2: "error 1.5"})
    assert [h.value for h in box.readouts.children] == ["error 3.0", "error 1.5"]
    assert box.readouts.selected_index == 1
    assert [(link.source, link.target) for link in box.links] == [
        ((box.slider, "index"), (box.stack, "selected_index")),
        ((box.slider, "index"), (box.readouts, "selected_index")),
    ]
    box2 = aew.explorer(frames, description="k", readout=lambda v: f"<b>{v}</b>")
    assert [h.value for h in box2.readouts.children] == ["<b>1</b>", "<b>2</b>"]


def test_explorer_input_errors():
    frames = aew.sweep([1, 2], draw)
    with pytest.raises(ValueError, match="empty"):
        aew.explorer({}, description="k")
    with pytest.raises(TypeError, match="dict"):
        aew.explorer([draw(1)], description="k")
    with pytest.raises(ValueError, match="not one of the slider values"):
        aew.explorer(frames, description="k", value=3)
    with pytest.raises(ValueError, match="description"):
        aew.explorer(frames, description="")
    with pytest.raises(TypeError, match="Figure or PNG bytes"):
        aew.explorer({1: "picture.png"}, description="k")
    with pytest.raises(ValueError, match="not a PNG"):
        aew.explorer({1: b"GIF89a..."}, description="k")
    with pytest.raises(TypeError, match="retrain"):
        aew.explorer(frames, description="k", retrain="yes")
    with pytest.raises(TypeError, match="readout"):
        aew.explorer(frames, description="k", readout=3)
    with pytest.raises(TypeError, match="string"):
        aew.explorer(frames, description="k", readout=lambda v: v)
    with pytest.raises(ValueError, match="duplicate labels"):
        aew.explorer({1: frames[1], "1": frames[2]}, description="k")
    for bad in ((5, 1), (1, 2, 3), 5, (1, "a")):
        with pytest.raises(ValueError, match="retrain_range must be a pair"):
            aew.explorer(frames, description="k", retrain=draw, retrain_range=bad)
    with pytest.raises(ValueError, match="retrain_range"):  # checked even before retrain is given
        aew.explorer(frames, description="k", retrain_range=(5, 1))
    # Any pair will do; the value box shows the bounds.
    box = aew.explorer(frames, description="k", retrain=draw, retrain_range=[1, 1024])
    assert box.value_box.placeholder == "a whole number in [1, 1024]"


def test_retrain_button_renders_the_new_figure_into_the_output():
    seen = []

    def retrain(v):
        seen.append(v)
        return draw(v)

    box = aew.explorer(aew.sweep([2, 8], draw), description="latent size", retrain=retrain,
                       retrain_range=(1, 1024))
    assert isinstance(box.value_box, widgets.Text) and isinstance(box.output, widgets.Output)
    assert box.retrain_button.description == "Retrain"
    assert box.output.outputs == ()

    box.value_box.value = " 37 "
    box.retrain_button.click()  # runs the registered handler, as a browser click would
    assert seen == [37] and isinstance(seen[0], int)
    (message,) = box.output.outputs
    assert message["output_type"] == "display_data"
    assert decode_png(base64.b64decode(message["data"]["image/png"])).format == "PNG"
    assert "37" in box.status.value and not box.retrain_button.disabled
    assert not plt.get_fignums()

    # A second retrain replaces the picture rather than piling up.
    assert box.retrain_at("5") is True
    assert seen == [37, 5] and len(box.output.outputs) == 1


@pytest.mark.parametrize("typed, fragment", [
    ("", "type a latent size"),
    ("seven", "whole number"),
    ("3.5", "whole number"),
    ("5000", "between 1 and 1024"),
])
def test_retrain_rejects_bad_custom_values_with_a_message(typed, fragment):
    seen = []
    box = aew.explorer(aew.sweep([2, 8], draw), description="latent size",
                       retrain=lambda v: seen.append(v) or draw(v), retrain_range=(1, 1024))
    assert box.retrain_at(typed) is False
    assert fragment in box.status.value and "⚠" in box.status.value
    assert seen == [] and box.output.outputs == ()


def test_retrain_reports_errors_from_the_callback_and_float_sliders_parse_floats():
    def picky(v):
        raise ValueError(f"noise std {v} too large for this demo")

    box = aew.explorer(aew.sweep([0.1, 0.5], draw), description="noise std", retrain=picky)
    assert box.retrain_at("2.5") is False
    assert "too large" in box.status.value
    assert not box.retrain_button.disabled

    box = aew.explorer(aew.sweep([0.1, 0.5], draw), description="noise std", retrain=lambda v: "not a figure")
    assert box.retrain_at("0.3") is False and "Figure" in box.status.value

    got = []
    box = aew.explorer(aew.sweep([0.1, 0.5], draw), description="noise std",
                       retrain=lambda v: got.append(v) or draw(v))
    assert box.retrain_at("0.3") is True and got == [0.3]


def test_retrain_at_without_controls_is_an_error():
    box = aew.explorer(aew.sweep([1], draw), description="k")
    with pytest.raises(RuntimeError, match="retrain"):
        box.retrain_at("3")


# ---------------------------------------------------------------- a still picture behind the slider
def _offset_of(frame: np.ndarray, still: np.ndarray) -> tuple[int, float]:
    """Row of ``still`` where ``frame`` starts, and the mean absolute difference there."""
    height, width = frame.shape[0], min(frame.shape[1], still.shape[1])
    diffs = [np.abs(still[y:y + height, :width] - frame[:, :width]).mean()
             for y in range(still.shape[0] - height + 1)]
    return int(np.argmin(diffs)), float(min(diffs))


def test_explorer_output_carries_its_default_frame_as_png_beside_the_widget_view():
    from IPython.core.formatters import DisplayFormatter

    frames = aew.sweep([2, 8, 32], draw)
    box = aew.explorer(frames, description="latent size", value=8, title="Bottleneck",
                       readout={2: "error 3.0", 8: "error 1.5", 32: "error 0.5"})
    data, _ = DisplayFormatter().format(box)
    # The widget view for front ends with a widget manager, the still for all others.
    assert set(data) == {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert data["text/plain"] == repr(box)
    still = base64.b64decode(data["image/png"])
    assert still == box.still
    image = decode_png(still)
    assert "transparency" not in image.info and image.mode in ("RGB", "P")
    rgb = np.asarray(image.convert("RGB"), dtype=float)
    frame = np.asarray(decode_png(frames[8]).convert("RGB"), dtype=float)
    # The default frame, unscaled, with text lines above (title, slider) and below (readout).
    assert rgb.shape[1] == frame.shape[1] and rgb.shape[0] > frame.shape[0] + 30
    top, diff = _offset_of(frame, rgb)
    assert diff < 3, diff  # a palette may shift a colour by a step or two
    assert top >= 20 and rgb[:top].min() < 100  # dark text above the frame
    assert rgb[top + frame.shape[0]:].min() < 100  # and the readout below it
    assert (rgb[0, 0] == 255).all()  # an opaque white background, readable on a dark page
    # Another default value, another still.
    other = _offset_of(np.asarray(decode_png(frames[32]).convert("RGB"), dtype=float), rgb)
    assert other[1] > 3 * max(diff, 0.1)
    assert not plt.get_fignums()  # drawing the still left no figure open


def test_still_without_title_or_readout_and_from_a_palette_frame():
    frames = aew.sweep([1, 2], draw, colors=64)
    box = aew.explorer(frames, description="k")
    rgb = np.asarray(decode_png(box.still).convert("RGB"), dtype=float)
    frame = np.asarray(decode_png(frames[1]).convert("RGB"), dtype=float)
    top, diff = _offset_of(frame, rgb)
    assert diff < 3 and top >= 12 and top + frame.shape[0] == rgb.shape[0]  # nothing below
    assert len(box.still) < 3 * len(frames[1]) + 20_000  # small: the notebook stores it


def test_myst_nb_shows_the_widget_in_html_and_the_still_in_the_pdf():
    """The book's HTML ranks the widget view first; the LaTeX (PDF) builder cannot show it and
    takes the PNG. If myst-nb ever changed that order, the HTML book would lose its sliders."""
    from myst_nb.core.render import get_mime_priority

    html_order = get_mime_priority("html", [])
    assert html_order.index("application/vnd.jupyter.widget-view+json") < html_order.index("image/png")
    latex_order = get_mime_priority("latex", [])
    assert "application/vnd.jupyter.widget-view+json" not in latex_order
    assert latex_order.index("image/png") < latex_order.index("text/plain")


def test_every_frame_has_alt_text():
    frames = aew.sweep([0.1, 0.5], draw)
    box = aew.explorer(frames, description="noise σ", title="Noisy <i>inputs</i>",
                       readout=lambda v: f"PSNR {10 * v:.0f} dB &amp; more")
    assert [img_alt(p.value) for p in box.stack.children] == [
        "Noisy inputs at noise σ = 0.1: PSNR 1 dB & more",
        "Noisy inputs at noise σ = 0.5: PSNR 5 dB & more"]
    plain = aew.explorer(frames, description="noise σ")
    assert img_alt(plain.stack.children[1].value) == "Picture at noise σ = 0.5"
    given = aew.explorer(frames, description="noise σ", alt='Digits "7" with noise')
    assert img_alt(given.stack.children[0].value) == 'Digits "7" with noise (noise σ = 0.1)'
    per_value = aew.explorer(frames, description="noise σ", alt={0.1: "clean-ish", 0.5: "noisy"})
    assert [img_alt(p.value) for p in per_value.stack.children] == ["clean-ish", "noisy"]
    called = aew.explorer(frames, description="noise σ", alt=lambda v: f"σ is {v}")
    assert img_alt(called.stack.children[1].value) == "σ is 0.5"
    with pytest.raises(TypeError, match="alt"):
        aew.explorer(frames, description="k", alt=3)
    with pytest.raises(ValueError, match="alt for 0.5"):
        aew.explorer(frames, description="k", alt={0.1: "x", 0.5: " "})


def test_controls_are_labelled_and_fit_a_phone():
    box = aew.explorer(aew.sweep([2, 8], draw), description="latent size", retrain=draw)
    # The slider's label is its description (the book's page script also puts it on the handle).
    assert box.slider.description == "latent size"
    assert box.value_box.description == "custom latent size"
    # Widths shrink to the page instead of scrolling sideways on a 390-px screen.
    assert box.slider.layout.width == "100%" and box.slider.layout.max_width == "420px"
    assert box.value_box.layout.width == "100%"
    rows = [w for w in _walk(box) if isinstance(w, widgets.HBox) and box.value_box in w.children]
    assert len(rows) == 1 and rows[0].layout.flex_flow == "row wrap"
    assert all("max-width: 100%" in p.value for p in box.stack.children)


def test_figures_are_opaque_white_under_the_book_style():
    """Figures are drawn for a white page; on the book's dark theme they must keep their white
    background rather than show black axes on a dark page."""
    from aelib.plot import book_style

    with matplotlib.rc_context():
        matplotlib.rcParams["figure.facecolor"] = "none"  # what a dark user style might set
        matplotlib.rcParams["savefig.transparent"] = True
        book_style()
        assert matplotlib.colors.to_rgba(matplotlib.rcParams["figure.facecolor"]) == (1, 1, 1, 1)
        assert matplotlib.rcParams["savefig.facecolor"] in ("white", "auto")
        assert matplotlib.rcParams["savefig.transparent"] is False
        image = decode_png(aew.figure_to_png(draw(1))).convert("RGBA")
    corner = image.getpixel((0, 0))
    assert corner == (255, 255, 255, 255), corner
