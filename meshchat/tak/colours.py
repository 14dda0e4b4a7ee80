"""ATAK's team colours: a team's members show in one of these on TAK maps (``__group name=...``)."""

TEAM_COLOURS = (
    "White",
    "Yellow",
    "Orange",
    "Magenta",
    "Red",
    "Maroon",
    "Purple",
    "Dark Blue",
    "Blue",
    "Cyan",
    "Teal",
    "Green",
    "Dark Green",
    "Brown",
)
