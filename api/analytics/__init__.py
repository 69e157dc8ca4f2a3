"""Analytics: pass rates, trends, flaky, slow and failing cases, computed by MongoDB aggregation
pipelines over the executions of a window of runs (see `api.analytics.match`)."""
