"""The ask command: a question answered in process (or by a running service, --url), printed for a
terminal or as the API's JSON body."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from citeqa.types import SEARCH_MODES
from corpus.errors import CiteqaError
from service.cli.common import fail, index_or_url, no_answer, settings_with

if TYPE_CHECKING:
    from citeqa.types import Response
    from service.schemas import QueryResponse


ASK_TIMEOUT = 60.0  # seconds a question through a service (--url) may take


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    k: Annotated[int, typer.Option("--k", "-k", help="how many passages", min=1, max=50)] = 5,
    mode: Annotated[str, typer.Option(help=f"one of {', '.join(SEARCH_MODES)}")] = "hybrid",
    index: Annotated[Path | None, typer.Option(help="index folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON body")] = False,
    url: Annotated[str | None, typer.Option(help="ask the service at this URL instead of the index")] = None,
    key: Annotated[str | None, typer.Option(envvar="CITEQA_API_KEY", help="API key for --url")] = None,
) -> None:
    """Ask a question of the index, in process (or of a running service, --url): the answer sentence (or
    that the corpus has none), then the ranked passages with their citations and the answering sentences
    marked (bold on a terminal, »…« otherwise)."""
    index_or_url(index, url)
    if url:
        ask_service(url, key, question, k, mode, as_json)
        return
    from citeqa.search import validate_request
    from service.querying import run_query
    from service.wiring import build_answerer

    try:
        validate_request(question, k, mode)  # before seconds of loading the model and the index
    except CiteqaError as err:
        fail(err)
    settings = settings_with(index_path=index)
    try:
        response = run_query(build_answerer(settings), question, k, mode)  # type: ignore[arg-type]
    except CiteqaError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(response.model_dump(), indent=2, ensure_ascii=False))
        return
    print_response(response, sys.stdout.isatty())


def ask_service(url: str, key: str | None, question: str, k: int, mode: str, as_json: bool) -> None:
    """The same question through citeqa.client: the same output, or the service's JSON body as it is."""
    import httpx

    from citeqa.client import CiteqaClient, CiteqaClientError, parse_response

    body = {"question": question, "top_k": k, "mode": mode}
    try:
        with CiteqaClient(url, api_key=key, timeout=ASK_TIMEOUT) as client:
            payload = client.request("POST", "/query", json=body)
    except CiteqaClientError as err:
        fail(ValueError(refusal(err.status, err.message)))
    except httpx.TimeoutException as err:
        fail(ValueError(no_answer(url, err, ASK_TIMEOUT, "it may be busy; ask again")))
    except httpx.HTTPError as err:
        fail(ValueError(f"cannot reach the service at {url}: {err}"))
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    print_response(parse_response(payload), sys.stdout.isatty())


def refusal(status: int, message: str) -> str:
    """The service's refusal, said for the command line: a missing key (401, a service that needs one for
    reads) is given with --key or CITEQA_API_KEY, not by the header the service names."""
    if status == 401:
        message = f"{message.split(';')[0]}; pass --key or set CITEQA_API_KEY"
    if status < 400:  # answered, but not as a citeqa service does (not JSON, or a redirect)
        return f"the service at --url answered {status}, but not with a citeqa answer: {message}"
    return f"the service refused ({status}): {message}"


def print_response(response: QueryResponse | Response, tty: bool) -> None:
    """The answer, then each result with its citation and marked sentences, on stdout."""
    from rich.text import Text

    from service.cli.render import cited_span, marked_segments, plain_marked, terminal_safe

    out = Console(highlight=False, force_terminal=tty)
    state = "yes" if response.answerable else "no"
    out.print(f"answerable: {state} (confidence {response.confidence:.2f})", markup=False)
    if response.answer is None:
        out.print(
            "answer: none: the corpus does not seem to answer this; the passages below are low confidence"
        )
    else:
        a = response.answer.citation
        answer = terminal_safe(response.answer.text)
        out.print(Text.assemble("answer: ", (answer, "bold green" if tty else "")))
        out.print(escape(f"   [{cited_span(a)}] {terminal_safe(a.title)}"))
    out.print()
    for result in response.results:
        c = result.citation
        source = terminal_safe(", ".join(x for x in (c.author, c.publisher) if x) or "source unknown")
        title = f"[cyan]{escape(terminal_safe(c.title))}[/cyan] ({escape(source)})"
        out.print(f"[bold]{result.rank}.[/bold] score {result.score:.4f}  {title}")
        out.print(escape(f"   {terminal_safe(c.url or 'no URL known')}  [{cited_span(c)}]"))
        if tty:
            body = Text("   ")
            for piece, marked in marked_segments(result.text, c.start, result.highlights):
                shown = terminal_safe(piece).replace("\n", "\n   ")
                body.append(shown, style="bold yellow" if marked else "")
            out.print(body)
        else:
            marked = plain_marked(result.text, c.start, result.highlights)
            out.print("   " + marked.replace("\n", "\n   "), markup=False)
        out.print()
