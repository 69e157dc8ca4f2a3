"""The `jbts` command line."""

import typer

from scripts import keys, migrate
from scripts.bench import bench
from scripts.prune import prune
from scripts.reset import reset
from scripts.seed import seed
from scripts.serve import serve
from scripts.stats import stats

app = typer.Typer(
    name="jbts",
    help="JBTestSuite data service: serve the API, migrate, seed, reset, inspect, prune and "
    "benchmark the database, manage API keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(stats)
app.command()(seed)
app.command()(reset)
app.command()(prune)
app.command()(bench)
app.add_typer(migrate.app, name="migrate")
app.add_typer(keys.app, name="keys")
