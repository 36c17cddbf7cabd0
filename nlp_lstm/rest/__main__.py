"""``python -m nlp_lstm.rest --model-dir saved_models``: the same as ``nlp-lstm serve``."""

import argparse
import sys

from nlp_lstm.rest.command import add_arguments, serve


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_lstm.rest", description="Serve the exports with TF Serving's REST API."
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
