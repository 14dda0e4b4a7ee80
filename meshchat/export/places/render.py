"""Both files of the places, as bytes: what the exporter writes and what verify makes again to compare."""

from __future__ import annotations

import io

from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.export.places.geojson import write_geojson
from meshchat.export.places.kml import write_kml
from meshchat.export.places.model import Places


def render(places: Places) -> dict[str, bytes]:
    """``{file name: its bytes}``, UTF-8, one file per format."""
    out = {}
    for name, write in ((GEOJSON_FILE, write_geojson), (KML_FILE, write_kml)):
        buffer = io.StringIO()
        write(places, buffer)
        out[name] = buffer.getvalue().encode("utf-8")
    return out
