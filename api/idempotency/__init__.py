"""Idempotency keys for POST requests: the route class and the service that stores the keys."""
