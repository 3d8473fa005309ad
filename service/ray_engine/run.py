"""``citeqa serve --engine ray``: the sharded index's Ray Serve application on a cluster (a local one unless
an address is given), its HTTP proxy on ``host:port``, until interrupted."""

from __future__ import annotations

import signal
import threading

from ray import serve

from indexer.ray_build import start_ray
from service.ray_engine.deployments import APP_NAME, application
from service.settings import Settings
from service.wiring import check_shards, shards_manifest


def serve_on_ray(settings: Settings, address: str | None, replicas: int, on_ready: str | None = None) -> None:
    """Deploy and serve until SIGINT or SIGTERM, then shut the application down."""
    manifest = shards_manifest(settings)  # a bad folder or model fails before Ray starts
    check_shards(settings, manifest)
    start_ray(address)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(
        application(settings, manifest.shard_folders, replicas),
        name=APP_NAME,
        route_prefix="/",
        blocking=False,
    )
    import ray

    print(
        f"serving {manifest.count} shards x {replicas} replicas of {manifest.folder} on Ray Serve at "
        f"http://{settings.host}:{settings.port} (Ray cluster {ray.get_runtime_context().gcs_address})"
        + (f" ({on_ready})" if on_ready else ""),
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
