"""The app factory uvicorn imports in each worker process when `citeqa serve --workers N` (N > 1).

Worker processes are spawned fresh, so each one reads its settings from the CITEQA_* environment (the CLI
puts its options there) and sets up the JSON logging itself; each loads the model and index once, in the
app's lifespan.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.app import create_app
from service.requestlog import configure_json_logging

WORKER_APP = "service.workers:worker_app"


def worker_app() -> FastAPI:
    configure_json_logging()
    return create_app()
