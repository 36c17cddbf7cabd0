#!/usr/bin/env python3
"""Generation speed of a character-generation export: characters per second.

Measures batch 1 and batch 32, with a short and a 1,000-character prompt; warm-up
excluded, median of several repeats. ``priming_seconds`` is the call with no new
character (reading the prompt once); ``ms_per_new_char`` is what each generated
character adds (the slope between ``--new-chars`` and a quarter of it, so the
priming cancels out), which should not depend on the prompt's length.
Prints one JSON line per setting.

    .venv/bin/python bench/generation_speed.py --model saved_models/generation
"""

import argparse

import tensorflow as tf
import tensorflow_text  # noqa: F401  (SentencePiece ops, as any consumer would load)
from timing import median, newest_version, report, seconds_per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/generation")
    parser.add_argument("--new-chars", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    path = newest_version(args.model)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    base = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    prompts = {"short": "ROMEO:\n", "1000_chars": (base * 20)[:1000]}
    for batch in (1, 32):
        for name, prompt in prompts.items():

            def seconds(new_chars: int) -> float:
                return median(
                    seconds_per_call(
                        lambda: serve(
                            prompt=tf.constant([prompt] * batch),
                            max_new_chars=tf.constant(new_chars),
                            temperature=tf.constant(0.8),
                            top_k=tf.constant(0),
                            top_p=tf.constant(1.0),
                            seed=tf.constant(1, tf.int64),
                        )["text"].numpy(),
                        args.repeats,
                    )
                )

            fewer = args.new_chars // 4
            total, shorter, priming = seconds(args.new_chars), seconds(fewer), seconds(0)
            per_char = (total - shorter) / (args.new_chars - fewer)  # priming cancels out
            report(
                "generation_speed",
                export=path,
                batch=batch,
                prompt=name,
                new_chars=args.new_chars,
                seconds_median=round(total, 4),
                priming_seconds=round(priming, 4),
                ms_per_new_char=round(1000 * per_char, 3),
                chars_per_second=round(batch * args.new_chars / total, 1),
                new_chars_per_second_after_priming=round(batch / per_char, 1),
            )


if __name__ == "__main__":
    main()
