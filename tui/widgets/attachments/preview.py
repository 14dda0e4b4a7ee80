"""An image in terminal cells: each cell is an upper half block ``▀`` whose foreground colour is the pixel
above and whose background colour is the pixel below, so a cell shows two pixels, square, in any terminal
with true colour (the message list draws lines, not widgets, so real pixels go to the viewer: ``v``).

The pixels come from the thumbnail inside the signed entry (``meshchat.blobs.images.decode_thumbnail``: a
small JPEG, checked before it is decoded), so every member sees the picture with the message, fetched or not.
Previews are kept per blob: a room of photos is decoded once, not on every redraw.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image
from textual.content import Content, Span

from meshchat.blobs.images import decode_thumbnail
from meshchat.log.attachments import Attachment

PREVIEW_COLUMNS = 24  # cells across the widest preview (a 4:3 photo takes 16 x 6)
PREVIEW_ROWS = 6  # a message with one photo still fits before it folds
PREVIEW_CACHE = 128


def half_blocks(image: Image.Image, columns: int, rows: int) -> Content:
    """``image`` scaled to fit ``columns`` x ``rows`` cells (keeping its shape), as lines of half blocks."""
    width, height = image.size
    scale = min(columns / width, 2 * rows / height)
    cells_w = max(1, round(width * scale))
    pixels_h = max(2, round(height * scale / 2) * 2)
    small = image.convert("RGB").resize((cells_w, pixels_h), Image.Resampling.BOX)
    pixels = small.load()
    assert pixels is not None
    text: list[str] = []
    spans: list[Span] = []
    offset = 0
    for y in range(0, pixels_h, 2):
        if y:
            text.append("\n")
            offset += 1
        for x in range(cells_w):
            top, bottom = pixels[x, y], pixels[x, y + 1]
            spans.append(Span(offset, offset + 1, f"#{_hex(top)} on #{_hex(bottom)}"))
            text.append("▀")
            offset += 1
    return Content("".join(text), spans)


def _hex(pixel: object) -> str:
    r, g, b = pixel if isinstance(pixel, tuple) else (0, 0, 0)
    return f"{r:02x}{g:02x}{b:02x}"


@lru_cache(maxsize=PREVIEW_CACHE)
def _thumb_preview(thumb: bytes, columns: int, rows: int) -> Content | None:
    image = decode_thumbnail(thumb)
    return half_blocks(image, columns, rows) if image is not None else None


def thumbnail_preview(file: Attachment, columns: int = PREVIEW_COLUMNS, rows: int = PREVIEW_ROWS) -> Content | None:
    """The preview of an attached image from the thumbnail its message carries; ``None`` if it has none (not
    an image, or a thumbnail that is not a small JPEG)."""
    if not file.thumb:
        return None
    return _thumb_preview(file.thumb, columns, rows)
