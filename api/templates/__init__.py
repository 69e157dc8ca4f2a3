"""Test templates: parameterised steps that instantiate into test cases (`/templates`)."""
