"""Execution tracking: runs, executions, step results, live status, imports."""
