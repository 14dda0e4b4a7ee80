"""Human reports of an export, all written from one consistent read of the store.

- ``model``: what the reports show, read once (people, rooms, messages with marks, incidents, roll calls).
- ``items``: the events of the timeline, in the team's one order.
- ``timeline``: ``timeline.html``, one self-contained page.
- ``tables``: ``messages.csv`` and ``incidents.json``.
- ``ics``: ICS-214 activity logs (``ics214/``) and the ICS-309 communications log.
- ``text``: escaping of untrusted text for HTML and CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TextIO

from meshchat.export.progress import Progress
from meshchat.export.reports.ics import write_ics214, write_ics214_team, write_ics309_csv, write_ics309_html
from meshchat.export.reports.model import ReportData, ReportFilter, collect
from meshchat.export.reports.tables import write_incidents_json, write_messages_csv
from meshchat.export.reports.timeline import write_timeline

__all__ = ["ReportData", "ReportFilter", "collect", "write_reports"]

ICS214_DIR = "ics214"


def write_reports(data: ReportData, out_dir: Path, *, progress: Progress) -> list[str]:
    """Write every report of ``data`` (read by :func:`collect`) into ``out_dir``; return their paths relative
    to it, in the order written."""
    jobs: list[tuple[str, Callable[[TextIO], None]]] = [
        ("timeline.html", lambda out: write_timeline(data, out)),
        ("messages.csv", lambda out: write_messages_csv(data, out)),
        ("incidents.json", lambda out: write_incidents_json(data, out)),
        ("ics309.html", lambda out: write_ics309_html(data, out)),
        ("ics309.csv", lambda out: write_ics309_csv(data, out)),
        (f"{ICS214_DIR}/team.html", lambda out: write_ics214_team(data, out)),
    ]
    for incident in data.incidents:
        jobs.append((f"{ICS214_DIR}/{incident.obj.hex()}.html", partial(write_ics214, data, incident)))
    progress.stage("writing reports", len(jobs))
    (out_dir / ICS214_DIR).mkdir(exist_ok=True)
    for name, job in jobs:
        sheet = name.endswith(".csv")  # for spreadsheets: a byte-order mark says UTF-8 to Excel
        encoding, newline = ("utf-8-sig", "") if sheet else ("utf-8", None)
        with (out_dir / name).open("w", encoding=encoding, newline=newline) as out:
            job(out)
        progress.advance()
    progress.done()
    return [name for name, _ in jobs]
