"""The database layer: connection, embedded engine, capability probe, migrations."""
