"""Places on the Earth, pure: points, what people type for them, and distances between them.

- ``point``: a point in integer units of 1e-7 degree (the entry format has no floats), and how to write one
  down (decimal degrees, MGRS, a ``geo:`` URI).
- ``parse``: what a person types for a place (``52.0907 5.1214``, ``31U FT 12345 67890``, ``geo:52.09,5.12``)
  into a point and how precise the text was.
- ``measure``: distance, bearing and a local flat projection, for maps and "1.2 km NE of you".
"""
