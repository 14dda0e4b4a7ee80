"""The map screen's parts: a Braille raster (pure), the drawing of a scene on it (pure), the canvas widget and
the member table."""
