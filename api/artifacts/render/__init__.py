"""Report renderers: a run and its executions as JUnit XML, HTML or JSON."""
