"""citeqa.turns.Turns (threads let in first come, first in, at most ``width`` at once) and the answer layer
taking its turn after the question is encoded (citeqa.answers.Answerer.respond, as the service builds it)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest

from citeqa.answers import Answerer
from citeqa.timing import listen_to_stages
from citeqa.turns import Turns

WAIT = 10.0


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_waiting_threads_enter_in_the_order_they_came() -> None:
    turns = Turns(1)
    entered: list[int] = []

    def enter(number: int) -> None:
        with turns:
            entered.append(number)

    turns.__enter__()  # the place is taken: every thread below waits
    threads = []
    for number in range(12):
        thread = threading.Thread(target=enter, args=(number,))
        thread.start()
        wait_until(lambda n=number: turns.waited == n + 1)  # this one waits before the next starts
        threads.append(thread)
    turns.__exit__(None, None, None)
    for thread in threads:
        thread.join(WAIT)
    assert entered == list(range(12))
    assert turns._free == 1 and not turns._waiting


def test_at_most_width_threads_are_inside_and_an_error_gives_the_place_back() -> None:
    turns = Turns(3)
    inside, most = 0, 0
    count = threading.Lock()

    def work(number: int) -> None:
        nonlocal inside, most
        with turns:
            with count:
                inside += 1
                most = max(most, inside)
            time.sleep(0.002)
            with count:
                inside -= 1
            if number % 5 == 0:
                raise RuntimeError("a failing query")

    def run(number: int) -> None:
        with contextlib.suppress(RuntimeError):
            work(number)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert most == 3
    assert turns._free == 3 and not turns._waiting
    with pytest.raises(ValueError, match="at least 1"):
        Turns(0)


def test_the_answer_layer_waits_its_turn_after_the_question_is_encoded(answerer: Answerer) -> None:
    question = "do milia go away on their own? (waiting its turn)"
    turns = answerer.turns
    assert isinstance(turns, Turns) and turns.width == 1  # CITEQA_ANSWER_CONCURRENCY's default
    assert answerer.over(answerer.searcher).turns is turns  # every snapshot's answerer shares them
    encoder = answerer.searcher.question_encoder
    encoded = encoder.misses
    waited = turns.waited
    got: list[object] = []
    stages: list[tuple[str, float]] = []

    def ask() -> None:
        with listen_to_stages(lambda name, seconds: stages.append((name, seconds))):
            got.append(answerer.respond(question, 3))

    with turns:
        thread = threading.Thread(target=ask)
        thread.start()
        wait_until(lambda: turns.waited == waited + 1)
        # Waiting for its turn, with its question already encoded and nothing answered yet.
        assert encoder.misses == encoded + 1 and not got
        held = time.perf_counter()
        time.sleep(0.05)
        held = time.perf_counter() - held
    thread.join(WAIT)
    [response] = got
    names = [name for name, _ in stages]
    assert names.index("encode") < names.index("turn") < names.index("highlight")
    [waited_for_turn] = [seconds for name, seconds in stages if name == "turn"]
    assert waited_for_turn >= held  # the wait is reported to /metrics as stage "turn"
    assert response == answerer.respond(question, 3)
    assert encoder.misses == encoded + 1  # the second answer read the cached vector
