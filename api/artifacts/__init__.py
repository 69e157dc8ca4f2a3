"""Artifacts: screenshots in GridFS, logs, and reports generated from runs."""
