"""The ``serve`` sub-command's flags and entry point.

Importing this module is cheap: TensorFlow, Starlette and uvicorn load in ``serve``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``serve`` flags to ``parser``."""
    parser.add_argument(
        "--model-dir",
        default="saved_models",
        help="folder of <name>/<version>/ SavedModels (default: saved_models)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=8501,
        help="port (default: 8501, TF Serving's REST port; 0 = any free port)",
    )
    group = parser.add_argument_group("batching (as TF Serving's batching parameters)")
    group.add_argument(
        "--max-batch-size",
        type=_positive,
        default=64,
        help="most rows in one model call (default: 64)",
    )
    group.add_argument(
        "--batch-timeout-ms",
        type=_non_negative,
        default=5.0,
        help="longest wait for a batch to fill (default: 5)",
    )
    group.add_argument(
        "--batch-threads",
        type=_positive,
        default=1,
        help="model calls running at once, per model version (default: 1)",
    )
    group.add_argument(
        "--max-queued-rows",
        type=_positive,
        default=10_000,
        help="rows waiting per model version before requests get 503 (default: 10000)",
    )
    group = parser.add_argument_group("versions")
    group.add_argument(
        "--version-policy",
        choices=("latest", "all"),
        default="latest",
        help="serve each model's newest version, or every version (default: latest)",
    )
    group.add_argument(
        "--poll-seconds",
        type=_non_negative,
        default=2.0,
        help="how often to look for new versions; 0 = never (default: 2)",
    )
    group.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="do not run each signature once when a version loads",
    )
    group = parser.add_argument_group("request limits (beyond them: 4xx)")
    group.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=4 * 2**20,
        help="request body size (default: 4 MiB; 413 beyond)",
    )
    group.add_argument(
        "--max-string-bytes",
        type=_positive,
        default=20_000,
        help="one input string, in UTF-8 bytes (default: 20000; 413 beyond)",
    )
    group.add_argument(
        "--max-rows",
        type=_positive,
        default=1_000,
        help="rows (instances) in one request (default: 1000; 413 beyond)",
    )
    group.add_argument(
        "--max-new-chars",
        type=_non_negative_int,
        default=2_000,
        help="largest max_new_chars a request may ask for (default: 2000)",
    )
    group.add_argument(
        "--max-beam-size",
        type=_non_negative_int,
        default=16,
        help="largest beam_size a request may ask for (default: 16)",
    )
    group.add_argument(
        "--max-length",
        type=_non_negative_int,
        default=1_000,
        help="largest max_length a request may ask for (default: 1000)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="server log level (default: warning; info logs every request)",
    )


def serve(args: argparse.Namespace) -> int:
    """Loads every model under ``--model-dir`` and serves until interrupted.

    Returns:
        0 after a clean shutdown; 2 if the folder is missing or the address is taken.
    """
    from pathlib import Path

    model_dir = Path(args.model_dir)
    if not model_dir.is_dir():
        print(f"error: {model_dir}: no such folder (--model-dir)", file=sys.stderr)
        return 2
    try:
        listener = _bind(args.host, args.port)
    except OSError as error:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    import uvicorn

    from nlp_lstm.rest.app import create_app
    from nlp_lstm.rest.models import BatchSettings, Registry
    from nlp_lstm.rest.protocol import Limits

    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("nlp_lstm.rest").setLevel(args.log_level.upper())
    batching = BatchSettings(
        args.max_batch_size,
        args.batch_timeout_ms / 1000.0,
        args.batch_threads,
        args.max_queued_rows,
    )
    registry = Registry(model_dir, args.version_policy, batching, warm_up=args.warm_up)
    registry.scan()
    if not registry.names():
        print(
            f"warning: no model versions under {model_dir} yet; waiting for some to appear",
            file=sys.stderr,
        )
    limits = Limits(
        args.max_body_bytes,
        args.max_string_bytes,
        args.max_rows,
        args.max_new_chars,
        args.max_beam_size,
        args.max_length,
    )
    app = create_app(registry, limits, args.poll_seconds)
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving {', '.join(registry.names()) or 'no models yet'} from {model_dir} on "
        f"http://{shown}:{port}/ (playground at /, REST API at /v1/models/<name>)",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        access_log=args.log_level in ("info", "debug"),
        timeout_keep_alive=30,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value
