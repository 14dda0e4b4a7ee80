"""``operation.sqlite``: the operation as one flat SQLite file, a table per view, for analysts at HQ.

- ``schema``: the tables, one declaration each (columns with what they hold, keys, foreign keys, indexes);
  the ``README`` table and the DDL are made from it. Adding a table starts there.
- ``rows``: each table's rows, from the views and rules the app uses (nothing re-derived here).
- ``source``: reads a store, in one snapshot, into what ``rows`` needs.
- ``sqlfile``: writes the file, and opens one from an export (untrusted) for reading.
- ``check``: verify's side: rebuild the file from ``log.msgpack`` and compare content, row by row.
"""

OPERATION_FILE = "operation.sqlite"
