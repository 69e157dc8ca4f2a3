"""Test suites: ordered collections of test cases (`/suites`)."""
