"""Is a PNG a real plot? Decodes the bytes with Pillow; never runs anything from the submission."""

from __future__ import annotations

import io

MIN_WIDTH, MIN_HEIGHT = 300, 200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def problem(data: bytes) -> str | None:
    """None for a PNG of at least 300x200 pixels that is not one flat colour; else what is wrong with it."""
    if not data.startswith(PNG_SIGNATURE):
        return "is not a PNG file (its first bytes are not the PNG signature)"
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 50_000_000
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            extrema = image.convert("L").getextrema()
    except Exception as e:  # Pillow raises many types for damaged files
        return f"could not be decoded as a PNG ({type(e).__name__}: {e})"
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return f"is {width}x{height} pixels; it should be at least {MIN_WIDTH}x{MIN_HEIGHT}"
    if extrema[1] - extrema[0] < 10:
        return "is blank: every pixel has the same colour (was the figure saved after plt.show() or before plotting?)"
    return None
