"""Where things were, for GIS at HQ: ``positions.geojson`` (QGIS, any GIS) and ``positions.kml`` (Google
Earth), both made from the log alone, so that ``verify`` can make them again and compare.

- ``model``: the places of an operation, from the report model: each member's track, outsiders relayed by a
  bridge, and the incidents, tasks, roll-call answers and messages that have coordinates.
- ``geojson``, ``kml``: the two files.
- ``check``: verify's side: the files made again from the export's log, compared byte for byte.
"""

GEOJSON_FILE = "positions.geojson"
KML_FILE = "positions.kml"
