"""What the commands share: the console, the options several commands take, settings and failure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:
    from pydantic import ValidationError

    from indexer.build import IndexSettings
    from service.settings import Settings

# soft_wrap: a message is one line however long (the terminal wraps it), so a path in it stays whole for
# copying; tables and progress bars still fit the width.
console = Console(stderr=True, soft_wrap=True)

# Options shared by several commands (the evaluation commands of eval/ take them too).
ModelOption = Annotated[str | None, typer.Option(help="sentence-transformers model name or path")]
BackendOption = Annotated[
    str | None, typer.Option(help="question encoder backend: torch, onnx or onnx-int8 (CITEQA_BACKEND)")
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(help="embedding cache folder (default: CITEQA_EMBEDDING_CACHE_PATH, var/cache/embeddings)"),
]

# Passage options as given on the command line: max words, overlap words, embed title, BM25 title.
PassageOptions = tuple[int | None, int | None, bool | None, bool | None]


def fail(error: Exception) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(str(error))}")  # a path may hold [brackets], not markup
    raise typer.Exit(code=2)


def index_or_url(index: Path | None, url: str | None) -> None:
    """--index and --url name two places to read or write: both given, the command would use the service
    and leave the folder named aside without a word, so it says to give one."""
    if index is not None and url:
        fail(
            ValueError(
                f"give --index or --url, not both: --index {index} is a folder this command would open, "
                f"--url {url} a service that uses its own"
            )
        )


def no_answer(url: str, error: Exception, timeout: float, after: str) -> str:
    """A request to the service at ``url`` that timed out: unanswered within ``timeout`` seconds (it was
    reached, unless connecting timed out), then ``after`` (what that means for the command)."""
    import httpx

    if isinstance(error, httpx.ConnectTimeout):
        return f"cannot reach the service at {url}: connecting timed out"
    return f"the service at {url} did not answer within {timeout:g} s ({error}); {after}"


def log(message: str) -> None:
    """A progress line on stderr (the message printed as it is, not as rich markup)."""
    console.print(escape(message))


def settings_with(**overrides: object) -> Settings:
    """The settings (CITEQA_* environment) with the options that were given on the command line. A value
    that breaks a setting's rule fails the command with a message naming the option or the variable (not
    pydantic's traceback)."""
    from pydantic import ValidationError

    from service.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
        warn_unknown_variables(Settings)
        return settings
    except ValidationError as err:
        fail(ValueError(settings_problems(err, given)))
    except UnicodeDecodeError as err:  # .env is the only file read: a traceback said only the byte
        env_file = Path(str(Settings.model_config.get("env_file") or ".env")).resolve()
        fail(ValueError(f"cannot read the settings file {env_file}: {err}; save it as UTF-8 (or remove it)"))


# CITEQA_* variables that are not settings but are read elsewhere: the client's key (citeqa add --url) and
# the durability test's rounds.
OTHER_VARIABLES = frozenset({"CITEQA_API_KEY", "CITEQA_KILL_ROUNDS"})


def warn_unknown_variables(settings_class: type[Settings]) -> None:
    """Say each CITEQA_* variable of the environment or of .env that is no setting: the settings ignore
    it, so a misspelt one (CITEQA_PROT=9000) left the default in force without a word."""
    import difflib
    import os

    known = {f"CITEQA_{name.upper()}" for name in settings_class.model_fields} | OTHER_VARIABLES
    names = {name.upper() for name in os.environ}
    env_file = Path(str(settings_class.model_config.get("env_file") or ".env"))
    if env_file.is_file():
        from dotenv import dotenv_values

        names |= {name.upper() for name in dotenv_values(env_file)}
    for name in sorted(n for n in names if n.startswith("CITEQA_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; see the README's Configuration"
        console.print(
            f"[yellow]warning:[/yellow] {escape(name)} is not a citeqa setting and is ignored{hint}"
        )


# Settings whose command line option is not the setting's name.
OPTION_NAMES = {"index_path": "index", "corpus_path": "corpus"}


def settings_problems(err: ValidationError, given: dict[str, object]) -> str:
    """One line per invalid setting: the command line option (``--port``) or the environment variable
    (``CITEQA_PORT``) it came from, what is wrong, and the value."""
    problems = []
    for problem in err.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else ""
        option = OPTION_NAMES.get(field, field.replace("_", "-"))
        name = f"--{option}" if field in given else f"CITEQA_{field.upper()}"
        shown = "" if field == "api_keys" else f" (got {problem.get('input')!r})"  # never echo a key
        problems.append(f"{name}: {problem['msg']}{shown}")
    return "; ".join(problems) + "; fix the option or the environment variable (or .env)"


def index_settings_from(passages: PassageOptions) -> IndexSettings:
    """IndexSettings with the given passage options, the defaults for the others."""
    from dataclasses import replace

    from indexer.build import IndexSettings
    from indexer.chunking import ChunkerSettings

    max_words, overlap_words, embed_title, bm25_title = passages
    base = IndexSettings()
    chunker = ChunkerSettings(
        max_words if max_words is not None else base.chunker.max_words,
        overlap_words if overlap_words is not None else base.chunker.overlap_words,
    )
    return replace(
        base,
        chunker=chunker,
        embed_title=base.embed_title if embed_title is None else embed_title,
        bm25_title=base.bm25_title if bm25_title is None else bm25_title,
    )


def progress_bar(label: str) -> Progress:
    """A progress bar on stderr: the label, the bar, done of total, the time remaining."""
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )
