"""Versioned migrations.

Each module `mNNNN_<name>.py` defines `VERSION` (int), `NAME` (str), and two coroutines taking the
PyMongo `AsyncDatabase`: `forward(db)` and `backward(db)`. Both must be safe to re-run. Migrations
are frozen history: they describe collections, validators and indexes as plain data and never
import `documents/`, so a later change to a document cannot rewrite what an old migration did.
The runner lives in `api.database.migrations`.
"""
