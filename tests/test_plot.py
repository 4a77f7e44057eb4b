import matplotlib
import pytest
import torch

from aelib import plot
from aelib.train import History


def test_figures_have_expected_panels():
    imgs = torch.rand(12, 64)
    fig = plot.image_grid(imgs, (1, 8, 8), ncols=4, titles=list("abcdefghijkl"))
    assert len(fig.axes) == 12 and fig.axes[0].get_title() == "a"
    fig = plot.show_reconstructions(imgs, {"model": imgs}, (1, 8, 8), n=5)
    assert len(fig.axes) == 10 and fig.axes[5].get_ylabel() == "model"
    fig = plot.latent_map(torch.randn(50, 2), torch.arange(50) % 3, ["a", "b", "c"])
    assert fig.axes[0].get_xlabel() == "$z_1$"
    fig = plot.loss_curves({"m": History(train_loss=[3, 2, 1], val_loss=[3, 2.5, 2])})
    assert len(fig.axes[0].lines) == 2
    matplotlib.pyplot.close("all")


def test_latent_map_needs_2d_codes():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot.latent_map(torch.randn(5, 3), torch.zeros(5))
