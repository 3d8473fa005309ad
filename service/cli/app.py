"""The citeqa app: the product's commands, then the commands plugged in through entry points.

Commands of other packages plug in without the product importing them: each entry point of the group
``citeqa.commands`` (declared in a distribution's metadata, e.g. pyproject.toml's
``[project.entry-points."citeqa.commands"]``) names a function ``register(app: typer.Typer) -> None``
that adds its commands to the app. The evaluation commands (eval, sweep, seed-sweep) come this way from
``eval.cli``, which may import service.cli.common (never this module: it loads the plugins).
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer
from rich.markup import escape

from indexer.errors import disk_refusal, unwritable
from service.cli import asking, indexing, writing
from service.cli.common import console

COMMANDS_GROUP = "citeqa.commands"

app = typer.Typer(help="citeqa: questions in, passages with exact citations out.", no_args_is_help=True)
app.command()(indexing.index)
app.command()(writing.add)
app.command()(writing.remove)
app.command()(indexing.rebuild)
app.command()(indexing.verify)
app.command()(indexing.upgrade)
app.command()(indexing.serve)
app.command()(asking.ask)


def add_plugin_commands(app: typer.Typer, group: str = COMMANDS_GROUP) -> None:
    """Let every entry point of ``group`` add its commands to ``app`` (in the order of their names). One
    that fails to load is said on stderr; the other commands still work."""
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            entry.load()(app)
        except Exception as err:
            console.print(
                f"[yellow]warning:[/yellow] the {escape(entry.name)} commands ({escape(entry.value)}) "
                f"are not available: {escape(str(err))}"
            )


add_plugin_commands(app)


def main() -> None:
    """The ``citeqa`` command. A write the disk refused (full, over a quota) or a folder it may not write
    (read-only, no permission) ends with one line saying so, not a traceback: every writer leaves nothing
    half-written behind (a build its staging folder, a write its segment), so freeing space or making the
    folder writable and running the command again is the fix."""
    try:
        app()
    except Exception as error:
        if (reason := disk_refusal(error)) is not None:
            console.print(
                f"[red]error:[/red] the disk refused a write ({escape(reason)}); the index folder is as it "
                f"was before this command: free space on its disk and run the command again. "
                f"({escape(str(error))})"
            )
        elif (refused := unwritable(error)) is not None:
            console.print(
                f"[red]error:[/red] cannot write {escape(refused)}; nothing was written: make the index "
                "folder (and the folder that holds it) writable by this user, or give another --index"
            )
        else:
            raise
        raise SystemExit(2) from None


if __name__ == "__main__":  # python -m service.cli.app, as the console script
    main()
