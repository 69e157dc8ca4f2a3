"""Versioned migrations.

Each module `mNNNN_<name>.py` defines `VERSION` (int), `NAME` (str), and two coroutines taking the
PyMongo `AsyncDatabase`: `forward(db)` and `backward(db)`. Both must be safe to re-run. Migrations
are frozen history: they describe collections, validators and indexes as plain data and never
import `documents/`, so a later change to a document cannot rewrite what an old migration did.
A migration that creates collections lists them in `COLLECTIONS` (`CollectionSpec`s): the runner
reads their names as the service's own collections (what `jbts reset` drops), and
tests/test_schema_drift.py compares them with the documents. The GridFS buckets' collections,
which no document describes, are indexed through `GRIDFS_INDEXES` (m0008): the runner counts
them among the service's collections too. The runner lives in
`api.database.migrations`.
"""
