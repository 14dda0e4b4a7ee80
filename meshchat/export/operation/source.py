"""What the tables of ``operation.sqlite`` are made of, read from one store (call it in one snapshot)."""

from __future__ import annotations

from meshchat.export.archive import team_name
from meshchat.export.logs import team_order
from meshchat.export.operation.rows import Source
from meshchat.export.reports.model import ReportData, ReportFilter, collect
from meshchat.store import Store


def operation_source(store: Store, data: ReportData | None = None) -> Source:
    """The exporter and the verifier both call this (the verifier on a store rebuilt from the export's log),
    so the file is a function of the log alone. ``data``: the report model of ``store``, unfiltered, if the
    caller has read it already (the exporter shares it with the reports)."""
    if data is None:
        data = collect(store, report_filter=ReportFilter(), exported_at=0, exported_by=b"")
    heads = {author: head.seq for author, head in store.heads().items()}
    return Source(store.team_id, team_name(store), store.membership, data, heads, lambda: team_order(store))
