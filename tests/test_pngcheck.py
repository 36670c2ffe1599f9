"""The PNG check tells a real plot from a blank, tiny, damaged or fake one."""

import io

from PIL import Image

from autograder.suite import pngcheck
from tests.conftest import ROOT


def png(width, height, mark=True):
    image = Image.new("RGB", (width, height), "white")
    if mark:
        image.putpixel((1, 1), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_reference_plot_passes():
    assert pngcheck.problem((ROOT / "solutions" / "pytorch_cnn_train_val_metrics.png").read_bytes()) is None


def test_a_blank_image_is_blank():
    assert "blank" in pngcheck.problem(png(600, 400, mark=False))


def test_a_small_image_is_too_small():
    assert "100x50 pixels" in pngcheck.problem(png(100, 50))


def test_a_jpeg_renamed_png_is_not_a_png():
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400)).save(buffer, format="JPEG")
    assert "not a PNG" in pngcheck.problem(buffer.getvalue())


def test_a_truncated_png_cannot_be_decoded():
    assert "could not be decoded" in pngcheck.problem(png(600, 400)[:200])
