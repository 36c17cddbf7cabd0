#!/usr/bin/env python3
"""Generation speed of a character-generation export: characters per second.

Measures batch 1 and batch 32, with a short and a 1,000-character prompt; warm-up
excluded, median of several repeats. Prints one JSON line per setting.

    .venv/bin/python bench/generation_speed.py --model saved_models/generation
"""

import argparse
import json
import statistics
import time

import tensorflow as tf
import tensorflow_text  # noqa: F401  (SentencePiece ops, as any consumer would load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/generation")
    parser.add_argument("--new-chars", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    path = args.model
    if not tf.io.gfile.exists(f"{path}/saved_model.pb"):
        path = f"{path}/{max(int(v) for v in tf.io.gfile.listdir(path) if v.strip('/').isdigit())}"
    serve = tf.saved_model.load(path).signatures["serving_default"]
    base = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    prompts = {"short": "ROMEO:\n", "1000_chars": (base * 20)[:1000]}
    for batch in (1, 32):
        for name, prompt in prompts.items():
            def call():
                return serve(prompt=tf.constant([prompt] * batch),
                             max_new_chars=tf.constant(args.new_chars),
                             temperature=tf.constant(0.8), top_k=tf.constant(0),
                             top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64))["text"]
            call()  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                call().numpy()
                times.append(time.perf_counter() - start)
            seconds = statistics.median(times)
            print(json.dumps({"benchmark": "generation_speed", "export": path, "batch": batch,
                              "prompt": name, "new_chars": args.new_chars,
                              "seconds_median": round(seconds, 4),
                              "chars_per_second": round(batch * args.new_chars / seconds, 1)}))


if __name__ == "__main__":
    main()
