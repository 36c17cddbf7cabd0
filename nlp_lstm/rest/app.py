"""The Starlette application: TF Serving's REST API over a ``Registry``, and the playground.

GET  /v1/models/<name>[/versions/<v>]            model status
GET  /v1/models/<name>[/versions/<v>]/metadata   signatures, dtypes, shapes
POST /v1/models/<name>[/versions/<v>]:predict    row ("instances") or columnar ("inputs")
GET  /                                           the playground page
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from nlp_lstm.rest import protocol
from nlp_lstm.rest.batching import QueueFullError
from nlp_lstm.rest.models import Registry, Servable
from nlp_lstm.rest.protocol import Limits, RequestError

log = logging.getLogger("nlp_lstm.rest")

MODEL_PATH = re.compile(
    r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>/metadata|:predict|:classify|:regress)?"
)


def error(message: str, status: int) -> Response:
    return Response(protocol.dumps({"error": message}), status, media_type="application/json")


def ok(payload) -> Response:
    return Response(protocol.dumps(payload), 200, media_type="application/json")


def create_app(
    registry: Registry, limits: Limits | None = None, poll_seconds: float = 2.0
) -> Starlette:
    """The ASGI app; scans ``registry`` every ``poll_seconds`` (0: never) while it runs."""
    limits = limits or Limits()
    stop = threading.Event()
    playground = resources.files("nlp_lstm.rest").joinpath("playground.html").read_bytes()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()
        registry.retire_callback = lambda servable: loop.call_soon_threadsafe(servable.retire)
        if poll_seconds > 0:
            registry.watch(poll_seconds, stop)
        yield
        stop.set()

    async def index(request: Request) -> Response:
        return HTMLResponse(playground)

    async def models(request: Request) -> Response:
        try:
            return await _models(request)
        except RequestError as failure:
            return error(failure.message, failure.status)

    async def _models(request: Request) -> Response:
        match = MODEL_PATH.fullmatch(request.path_params["rest"])
        if match is None:
            raise RequestError(f"malformed URL: {request.url.path}", 404)
        name, verb = match["name"], match["verb"]
        if match["label"] is not None:
            raise RequestError(
                f"unknown label '{match['label']}' for model '{name}': this "
                "server assigns no version labels",
                404,
            )
        version = None
        if match["version"] is not None:
            if not match["version"].isdigit():
                raise RequestError(
                    f"version must be a non-negative integer, not '{match['version']}'", 400
                )
            version = int(match["version"])
        if verb in (":classify", ":regress"):
            raise RequestError(
                f"{verb[1:]} is not supported: these exports have predict "
                "signatures only; use :predict",
                400,
            )
        expected = "POST" if verb == ":predict" else "GET"
        if request.method != expected:
            raise RequestError(f"{request.method} is not allowed here; use {expected}", 405)
        if verb is None:
            return ok(status(name, version))
        servable = find(name, version)
        if verb == "/metadata":
            return ok(
                {
                    "model_spec": {
                        "name": name,
                        "signature_name": "",
                        "version": str(servable.version),
                    },
                    "metadata": {
                        "signature_def": servable.signature_def,
                        # another entry of TF Serving's metadata map: the
                        # export's task and labels (what the playground shows)
                        "nlp_lstm": servable.summary,
                    },
                }
            )
        return await predict(request, servable)

    def find(name: str, version: int | None) -> Servable:
        servable = registry.get(name, version)
        if servable is None:
            spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise RequestError(f"Servable not found for request: {spec}", 404)
        return servable

    def status(name: str, version: int | None) -> dict:
        states = registry.states.get(name, {})
        if version is not None:
            states = {version: states[version]} if version in states else {}
        if not states:
            spec = f"model '{name}'" + (f" version {version}" if version is not None else "")
            raise RequestError(
                f"Could not find any versions of {spec} under {registry.model_dir}", 404
            )
        return {
            "model_version_status": [
                {
                    "version": str(v),
                    "state": s.state,
                    "status": {"error_code": s.error_code, "error_message": s.error_message},
                }
                for v, s in sorted(states.items(), reverse=True)
            ]
        }

    async def predict(request: Request, servable: Servable) -> Response:
        body = await read_body(request, limits.max_body_bytes)
        parsed = protocol.parse_predict(protocol.parse_body(body), servable.signatures, limits)
        if parsed.size == 0:
            return ok(protocol.predict_response(parsed, []))
        batcher = servable.batcher
        try:
            results = await asyncio.gather(
                *[
                    batcher.submit((parsed.signature.name, group.scalars), group.columns)
                    for group in parsed.groups
                ]
            )
        except QueueFullError as full:
            return error(f"the server is overloaded ({full}); retry later", 503)
        except Exception as failure:  # noqa: BLE001
            import tensorflow as tf

            if isinstance(failure, (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError)):
                message = str(failure.message if hasattr(failure, "message") else failure)
                raise RequestError(message.strip().splitlines()[0]) from None
            raise
        return ok(protocol.predict_response(parsed, results))

    async def not_found(request: Request, exc: HTTPException) -> Response:
        return error(
            exc.detail if exc.status_code != 404 else f"no such endpoint: {request.url.path}",
            exc.status_code,
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path, exc_info=exc)
        return error(f"internal error: {type(exc).__name__}", 500)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/v1/models/{rest:path}", models, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: not_found, Exception: server_error},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes (413) without reading it all."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(f"the request body has {int(length)} bytes; the limit is {limit}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the request body exceeds the limit of {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)
