"""Images: what kind of file an attachment is, and its thumbnail, decoded with Pillow under strict bounds.

Every image here came from someone else (a peer's thumbnail, a file fetched, or one a person picked that may
be anything), and image decoders are a classic attack surface. So:

- only the formats a field team sends are opened (:data:`FORMATS`); anything else is a plain file;
- the size in pixels is read from the header and checked before any pixel is decoded: a "decompression
  bomb" (a small file that claims gigapixels) is refused at :data:`MAX_PIXELS` instead of taking the memory;
- a thumbnail in an entry is a JPEG of at most :data:`~meshchat.log.attachments.MAX_THUMB` bytes and
  :data:`MAX_THUMB_SIDE` pixels a side, checked before it is decoded;
- Pillow's own errors (a truncated or malformed file) are caught and mean "no picture", never a crash.

Decoding runs in the caller's thread: the node calls these from a worker thread.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from meshchat.log.attachments import MAX_THUMB, THUMB_MAGIC

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
MAX_PIXELS = 64_000_000  # a 64-megapixel photo decodes in ~200 MB; more is refused, not decoded
THUMB_SIDE = 192  # pixels on the longer side of a thumbnail, first try
MIN_THUMB_SIDE = 48
MAX_THUMB_SIDE = 512  # a thumbnail from a peer larger than this is not shown
THUMB_QUALITIES = (70, 55, 40)

# Pillow warns at MAX_IMAGE_PIXELS and refuses at twice that; we check the header ourselves first, but keep
# Pillow's own guard at our limit too, for formats that learn their size late.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageRefused(ValueError):
    """An image that is not decoded: too many pixels, a format not allowed, or a damaged file."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str  # one of FORMATS
    mime: str
    width: int
    height: int


def probe(path: Path) -> ImageInfo | None:
    """What image ``path`` is (from its header only), or ``None`` if it is not one of :data:`FORMATS`."""
    try:
        with _open(path) as image:
            fmt = str(image.format)
            return ImageInfo(fmt, MIME_TYPES[fmt], image.width, image.height)
    except ImageRefused:
        return None


def thumbnail(path: Path, *, budget: int = MAX_THUMB) -> bytes | None:
    """A JPEG of the image at ``path`` in at most ``budget`` bytes (smaller and coarser until it fits), or
    ``None`` if the file is not an image we decode."""
    try:
        with _open(path) as image:
            side = THUMB_SIDE
            image.draft("RGB", (side * 2, side * 2))  # JPEG: decode at 1/2..1/8 scale, far faster and smaller
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                frame = ImageOps.exif_transpose(image.convert("RGB"))
            while side >= MIN_THUMB_SIDE:
                small = frame.copy()
                small.thumbnail((side, side), Image.Resampling.LANCZOS)
                for quality in THUMB_QUALITIES:
                    out = io.BytesIO()
                    small.save(out, "JPEG", quality=quality, optimize=True)
                    if out.tell() <= budget:
                        return out.getvalue()
                side = side * 3 // 4
    except (ImageRefused, OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None
    return None


def decode_thumbnail(data: bytes) -> Image.Image | None:
    """A peer's thumbnail as pixels, or ``None`` if it is not a small JPEG (checked before decoding)."""
    if len(data) > MAX_THUMB or not data.startswith(THUMB_MAGIC):
        return None
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            if not (0 < image.width <= MAX_THUMB_SIDE and 0 < image.height <= MAX_THUMB_SIDE):
                return None
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def decode_image(path: Path, *, max_side: int = 2048) -> Image.Image | None:
    """A fetched image, scaled to at most ``max_side`` pixels a side, for showing on screen (``None`` if it
    is not an image we decode)."""
    try:
        with _open(path) as image:
            image.draft("RGB", (max_side, max_side))
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                frame = ImageOps.exif_transpose(image.convert("RGB"))
            frame.thumbnail((max_side, max_side))
            return frame
    except (ImageRefused, OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None


def _open(path: Path) -> Image.Image:
    """Open ``path`` as an image of an allowed format whose header claims at most :data:`MAX_PIXELS`."""
    try:
        image = Image.open(path, formats=list(FORMATS))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRefused(f"not an image meshchat shows: {exc}") from None
    if image.format not in FORMATS or image.width < 1 or image.height < 1:
        image.close()
        raise ImageRefused("not an image meshchat shows")
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise ImageRefused(f"{image.width}x{image.height} pixels: more than meshchat decodes")
    return image
