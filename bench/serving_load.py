"""Load test of ``nlp-lstm serve``: N concurrent clients for a fixed time, per model.

Starts the server on a loopback port (or uses ``--url``), then for each model runs
``--concurrency`` clients, each sending one request after another over its own
keep-alive connection (one sentence / prompt per request) for ``--duration`` seconds
after a short warm-up. Prints one JSON line per model: requests and rows per second,
p50 / p99 latency, errors (any non-200 answer or failed connection; must be 0), and
the server's resident memory after the warm-up and at the end (must stay flat).

    python bench/serving_load.py --model-dir saved_models
    python bench/serving_load.py --model-dir saved_models --models sentiment \\
        --concurrency 32 --duration 30 --max-batch-size 64 --batch-timeout-ms 5

The clients are plain asyncio sockets in this one process (no HTTP library), so that
on a 2-core machine they take as little CPU as possible from the server they measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

SENTENCES = [
    "A warm, funny and beautifully acted film.",
    "Tedious, overlong and badly written.",
    "The plot is thin, but the performances carry it.",
    "An uneven but often charming comedy about growing up.",
    "I have rarely been so bored in a cinema.",
    "A masterpiece of quiet observation.",
    "Where is the station?",
    "The weather is nice today.",
]
PROMPTS = ["ROMEO:\n", "KING HENRY:\nWhat", "First Citizen:\n", "JULIET:\nO"]


def bodies(model: str, generation_chars: int) -> tuple[str, list[bytes]]:
    """(path suffix, request bodies to cycle through) for ``model``."""
    if model.startswith("generation"):
        return ":predict", [
            json.dumps(
                {
                    "inputs": {
                        "prompt": [p],
                        "max_new_chars": generation_chars,
                        "temperature": 0.8,
                        "top_k": 0,
                        "top_p": 0.95,
                        "seed": 7,
                    }
                }
            ).encode()
            for p in PROMPTS
        ]
    return ":predict", [json.dumps({"instances": [s]}).encode() for s in SENTENCES]


async def client(
    host: str,
    port: int,
    path: str,
    payloads: list[bytes],
    stop_at: float,
    latencies: list[float],
    errors: list[str],
    offset: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    heads = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(p)}\r\n\r\n"
        ).encode()
        + p
        for p in payloads
    ]
    index = offset
    try:
        while time.perf_counter() < stop_at:
            request = heads[index % len(heads)]
            index += 1
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(f"{status}: {body[:200]!r}")
    except (OSError, asyncio.IncompleteReadError) as error:
        errors.append(f"connection: {error!r}")
    finally:
        writer.close()


async def drive(
    host: str, port: int, path: str, payloads: list[bytes], concurrency: int, seconds: float
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(
        *[
            client(host, port, path, payloads, start + seconds, latencies, errors, i)
            for i in range(concurrency)
        ]
    )
    return latencies, errors, time.perf_counter() - start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_server(args) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "nlp_lstm.rest",
        "--model-dir",
        args.model_dir,
        "--port",
        "0",
        "--max-batch-size",
        str(args.max_batch_size),
        "--batch-timeout-ms",
        str(args.batch_timeout_ms),
        "--poll-seconds",
        "0",
        "--max-queued-rows",
        "100000",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    url = None
    for line in process.stdout:
        if line.startswith("serving ") and " on http://" in line:
            url = line.split(" on ")[1].split("/ ")[0]
            break
        print(line, end="", file=sys.stderr)
    if url is None:
        raise SystemExit("the server did not start")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, url


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default="saved_models")
    parser.add_argument("--models", default="sentiment,generation,translation")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per model")
    parser.add_argument("--warm-up", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument(
        "--generation-chars", type=int, default=50, help="max_new_chars of each generation request"
    )
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--batch-timeout-ms", type=float, default=5.0)
    parser.add_argument("--url", help="measure a running server instead (no memory figures)")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    process = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        process, url = start_server(args)
    host, port = url.split("//")[1].rsplit(":", 1)
    port = int(port)
    try:
        for model in [m for m in args.models.split(",") if m]:
            suffix, payloads = bodies(model, args.generation_chars)
            path = f"/v1/models/{model}{suffix}"
            asyncio.run(drive(host, port, path, payloads, args.concurrency, args.warm_up))
            before = rss_mb(process.pid) if process else None
            latencies, errors, elapsed = asyncio.run(
                drive(host, port, path, payloads, args.concurrency, args.duration)
            )
            after = rss_mb(process.pid) if process else None
            record = {
                "model": model,
                "concurrency": args.concurrency,
                "max_batch_size": args.max_batch_size,
                "batch_timeout_ms": args.batch_timeout_ms,
                "seconds": round(elapsed, 1),
                "requests": len(latencies),
                "rows_per_s": round(len(latencies) / elapsed, 1),
                "p50_ms": round(1000 * percentile(latencies, 0.50), 1),
                "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
                "errors": len(errors),
                "first_error": errors[0] if errors else None,
                "rss_mb_before": round(before, 1) if before else None,
                "rss_mb_after": round(after, 1) if after else None,
                "cpus": os.cpu_count(),
            }
            if model.startswith("generation"):
                record["new_chars_per_request"] = args.generation_chars
            print(json.dumps(record), flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
