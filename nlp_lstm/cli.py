"""The ``nlp-lstm`` command line.

    nlp-lstm train sentiment --preset quick     (also evaluate, export, finetune; any recipe)
    nlp-lstm corpora [--json]
    nlp-lstm predict --model saved_models/sentiment "A fine film." "Dull."
    nlp-lstm predict --model saved_models/sentiment --input texts.txt --format jsonl
    cat texts.txt | nlp-lstm predict --model saved_models/sentiment --input - --output out.tsv
    nlp-lstm generate --model saved_models/generation --prompt "ROMEO:" --max-new-chars 300
    nlp-lstm translate --model saved_models/translation "Where is the station?"
    nlp-lstm translate --model saved_models/translation --input en.txt --output es.tsv
    nlp-lstm translate --model saved_models/translation "I saw her." --plot-attention att.png
    nlp-lstm tokenizer --corpus rotten_tomatoes --vocabulary-size 8000 --output sp.model
    nlp-lstm tokenizer --data my.tsv --output sp.model --encode "some text"
    nlp-lstm serve --model-dir saved_models    (when nlp_lstm.rest is installed)

``predict``, ``generate`` and ``translate`` write each batch's rows as soon as they are
done, so Ctrl-C keeps them; ``--verbose`` shows TensorFlow's own log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from nlp_lstm import __version__, import_tensorflow, recipes, runner
from nlp_lstm.config import HelpFormatter, bounded
from nlp_lstm.errors import Interrupted, NlpLstmError, deferred_signals, exit_status, signal_of


def _corpora(args) -> None:
    from nlp_lstm import corpora

    records = corpora.describe()
    if args.json:
        print(json.dumps(records, indent=2))
        return
    print(
        f"{'corpus':<16} {'task':<12} {'unit':<11} {'train':>9} {'validation':>11} "
        f"{'test':>9}  source"
    )
    for r in records:
        s = r["splits"]
        print(
            f"{r['name']:<16} {r['task']:<12} {r['unit']:<11} {s['train']:>9,} "
            f"{s['validation']:>11,} {s['test']:>9,}  {r['source']}"
        )


def _training_texts(args) -> list[str]:
    from nlp_lstm import corpora
    from nlp_lstm.data import read_labelled, read_lines, read_pairs

    if args.data:
        path = Path(args.data)
        if args.kind == "text":
            return read_lines(path)
        if args.kind == "pairs":
            pairs = read_pairs(path)
            return pairs.sources + pairs.targets
        return read_labelled(path).texts
    corpus = corpora.get(args.corpus)
    loaded = corpora.load(corpus.name, "train")
    if corpus.kind == "text":
        return loaded.splitlines()
    return loaded[0] if corpus.kind == "labelled" else loaded[0] + loaded[1]


def _tokenizer(args) -> None:
    import tensorflow as tf

    from nlp_lstm.tokenization import SentencePieceTokenizer, train_sentencepiece

    output = Path(args.output)
    if output.is_dir():
        raise NlpLstmError(
            "--output is a folder; give the model's file name (e.g. sp.model)", path=output
        )
    texts = _training_texts(args)
    print(
        f"training a {args.model_type} SentencePiece model ({args.vocabulary_size} pieces) "
        f"on {len(texts):,} lines",
        file=sys.stderr,
    )
    proto = train_sentencepiece(
        texts,
        args.vocabulary_size,
        args.model_type,
        args.character_coverage,
        source=args.data or args.corpus,
        lower_case=args.lower_case,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(proto)
    print(f"wrote {output} ({len(proto):,} bytes)")
    tokenizer = SentencePieceTokenizer(proto)
    for text in args.encode or []:
        ids = tokenizer.tokenize(tf.constant([text]))[0].numpy().tolist()
        pieces = [tokenizer.pieces()[i] for i in ids]
        print(json.dumps({"text": text, "ids": ids, "pieces": pieces}, ensure_ascii=False))


def _read_inputs(args, given: list[str]) -> list[str]:
    """``given`` (texts from the command line), then the lines of ``--input`` (``-``:
    standard input)."""
    texts = list(given or [])
    if args.input == "-":
        texts += _stdin_lines()
    elif args.input:
        from nlp_lstm.data import read_lines

        texts += read_lines(args.input)
    return texts


def _stdin_lines() -> list[str]:
    """Standard input's lines, read and checked as ``read_lines`` reads a file."""
    from nlp_lstm.data import read_lines

    with tempfile.NamedTemporaryFile(suffix=".txt") as copy:
        copy.write(sys.stdin.buffer.read())
        copy.flush()
        try:
            return read_lines(copy.name)
        except NlpLstmError as error:
            raise NlpLstmError(error.message, path="<stdin>", line=error.line) from None


TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _format_rows(rows: list[dict], fmt: str, header: bool) -> str:
    """Rows as text: JSON lines; TSV (with a header row when ``header``) whose fields escape
    backslash, tab, newline and carriage return with a backslash, so that every row is one
    line; or ``text``: each row's ``text`` field, rows separated by a dashed line."""
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if fmt == "text":
        return "".join(row["text"] + "\n" + "-" * 40 + "\n" for row in rows)
    lines = ["\t".join(rows[0])] if header and rows else []
    lines += [
        "\t".join(
            (json.dumps(v) if isinstance(v, list) else str(v)).translate(TSV_ESCAPES)
            for v in row.values()
        )
        for row in rows
    ]
    return "".join(line + "\n" for line in lines)


class Progress:
    """Rows done, rows per second and the time left, on one line of a terminal's stderr;
    nothing when stderr is not a terminal."""

    def __init__(self, total: int):
        self.total, self.start = total, time.monotonic()
        self.shown = sys.stderr.isatty()

    def update(self, done: int) -> None:
        if not self.shown:
            return
        rate = done / max(time.monotonic() - self.start, 1e-9)
        left = (self.total - done) / rate if rate else 0
        sys.stderr.write(f"\r{done:,}/{self.total:,} rows, {rate:,.1f} rows/s, ETA {left:,.0f} s ")
        sys.stderr.flush()

    def end(self) -> None:
        """Ends the progress line (whether all rows are done or not)."""
        if self.shown:
            sys.stderr.write("\n")


@contextlib.contextmanager
def _output(path: str | None) -> Iterator:
    """The file ``--output`` names (created with its folders), or standard output."""
    if path is None:
        yield sys.stdout
        return
    target = Path(path)
    if target.is_dir():
        raise NlpLstmError("--output is a folder; give a file name", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as stream:
        yield stream


def _stream_rows(args, signature, inputs: dict[str, list], make_rows, keep=None, **scalars) -> None:
    """Runs ``signature`` over ``inputs`` in batches of ``--batch-size`` and writes each
    batch's rows as soon as they are done (to ``--output`` or standard output), with
    progress on a terminal.

    Args:
        make_rows: ``(start, outputs) -> rows`` for the batch starting at row ``start``.

    Raises:
        Interrupted: on SIGINT or SIGTERM, once the current batch is written (at once on
            a second one), saying how many rows were written, and where.
    """
    from nlp_lstm import serving

    total, done = len(next(iter(inputs.values()))), 0
    progress = Progress(total)
    with _output(args.output) as out, deferred_signals() as received:
        try:
            for start, outputs in serving.iter_batched(
                signature, inputs, args.batch_size, keep, **scalars
            ):
                rows = make_rows(start, outputs)
                out.write(_format_rows(rows, args.format, header=start == 0))
                out.flush()
                done += len(rows)
                progress.update(done)
                if received:
                    raise Interrupted(received[0])
        except KeyboardInterrupt as stop:
            where = args.output or "standard output"
            raise Interrupted(
                signal_of(stop), f"the first {done:,} of {total:,} rows are in {where}"
            ) from None
        finally:
            progress.end()


def _predict(args) -> None:
    from nlp_lstm import serving

    model = serving.load(args.model, "sentiment")
    texts = _read_inputs(args, args.texts)
    if not texts:
        raise NlpLstmError("give texts as arguments or --input FILE (one text per line)")
    labels = model.metadata["labels"]

    def rows(start, outputs):
        return [
            {
                "text": text,
                "label": label.decode("utf-8"),
                **{f"p_{name}": round(float(p), 4) for name, p in zip(labels, probabilities)},
            }
            for text, label, probabilities in zip(
                texts[start:], outputs["label"], outputs["probabilities"]
            )
        ]

    _stream_rows(args, model.signature, {"text": texts}, rows)


def _generate(args) -> None:
    from nlp_lstm import serving
    from nlp_lstm.models.generation import MAX_NEW_CHARS

    model = serving.load(args.model, "generation")
    if args.max_new_chars > MAX_NEW_CHARS:
        print(
            f"note: --max-new-chars {args.max_new_chars:,} is capped at {MAX_NEW_CHARS:,}",
            file=sys.stderr,
        )
    prompts = _read_inputs(args, args.prompt) or [""]

    def rows(start, outputs):
        return [
            {"prompt": prompt, "text": text.decode("utf-8", "replace")}
            for prompt, text in zip(prompts[start:], outputs["text"])
        ]

    _stream_rows(
        args,
        model.signature,
        {"prompt": prompts},
        rows,
        max_new_chars=tf_scalar(min(args.max_new_chars, MAX_NEW_CHARS), "int32"),
        temperature=tf_scalar(args.temperature, "float32"),
        top_k=tf_scalar(args.top_k, "int32"),
        top_p=tf_scalar(args.top_p, "float32"),
        seed=tf_scalar(args.seed, "int64"),
    )


def _translate(args) -> None:
    from nlp_lstm import plots, serving

    if args.plot_attention and Path(args.plot_attention).suffix.lower() != ".png":
        raise NlpLstmError(f"--plot-attention needs a .png file name, got {args.plot_attention}")
    model = serving.load(args.model, "translation")
    sources = _read_inputs(args, args.texts)
    if not sources:
        raise NlpLstmError("give sentences as arguments or --input FILE (one per line)")
    beam_size = args.beam_size or model.metadata["decoding"]["beam_size"]
    signature = model.module.signatures["translate"]
    controls = {
        "beam_size": tf_scalar(beam_size, "int32"),
        "max_length": tf_scalar(args.max_length, "int32"),
    }

    def rows(start, outputs):
        return [
            {
                "source": source,
                "translation": translation.decode("utf-8"),
                "score": round(float(score), 4),
            }
            for source, translation, score in zip(
                sources[start:], outputs["translation"], outputs["score"]
            )
        ]

    _stream_rows(
        args, signature, {"source": sources}, rows, keep=("translation", "score"), **controls
    )
    if args.plot_attention:
        first = signature(source=tf_scalar(sources[:1], "string"), **controls)
        source_pieces = [p.decode() for p in first["source_pieces"][0].numpy() if p]
        target_pieces = [p.decode() for p in first["target_pieces"][0].numpy() if p]
        Path(args.plot_attention).parent.mkdir(parents=True, exist_ok=True)
        path = plots.attention(
            first["attention"][0].numpy(),
            source_pieces,
            target_pieces,
            Path(args.plot_attention),
            title=f"{sources[0]}\n{first['translation'][0].numpy().decode()}",
        )
        print(f"wrote the attention of the first translation to {path}", file=sys.stderr)


def tf_scalar(value, dtype: str):
    import tensorflow as tf

    return tf.constant(value, dtype=dtype)


def _add_serve(commands) -> None:
    """``nlp-lstm serve``, whose flags and runner live in ``nlp_lstm.rest.command`` (a
    module that does not import TensorFlow); absent while that package is."""
    if importlib.util.find_spec("nlp_lstm.rest") is None:
        return
    from nlp_lstm.rest.command import add_arguments, serve

    add_arguments(
        _command(
            commands,
            "serve",
            "serve exports over HTTP (TF Serving's REST API)",
            "nlp-lstm serve --model-dir saved_models --port 8501",
            serve,
        )
    )


def _command(commands, name: str, help_text: str, example: str, run) -> argparse.ArgumentParser:
    """A sub-command with its help, one example, ``--verbose`` and its runner."""
    sub = commands.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=HelpFormatter,
    )
    sub.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    sub.set_defaults(run=run)
    return sub


def _add_batch_flags(sub, unit: str, formats: tuple[str, ...], batch_size: int) -> None:
    """``--input``, ``--output``, ``--format`` and ``--batch-size`` of a batch command."""
    sub.add_argument(
        "--input",
        metavar="FILE",
        help=f"a UTF-8 file with one {unit} per line ('-': standard input)",
    )
    sub.add_argument(
        "--output",
        metavar="FILE",
        help="write the results here, batch by batch (default: standard output)",
    )
    sub.add_argument("--format", choices=formats, default=formats[0], help="output format")
    sub.add_argument(
        "--batch-size", type=bounded(int, 1), default=batch_size, help="rows per batch"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nlp-lstm",
        description="LSTM NLP recipes: train, evaluate, export and use them.",
        epilog="run 'nlp-lstm COMMAND --help' for a command's options and an example",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(tensorflow=True)
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = "export version directory, or recipe folder (newest version)"

    for name, help_text in runner.COMMANDS.items():
        recipe = _command(
            commands,
            name,
            f"{help_text} (a recipe's own flags: nlp-lstm {name} RECIPE --help)",
            f"nlp-lstm {name} sentiment --help",
            None,
        )
        recipe.add_argument("recipe", choices=recipes.NAMES, help="the recipe")
        recipe.add_argument("options", nargs=argparse.REMAINDER, help="the recipe's flags")
        recipe.set_defaults(tensorflow=False)

    listing = _command(
        commands,
        "corpora",
        "list the bundled corpora with split counts",
        "nlp-lstm corpora --json",
        _corpora,
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(tensorflow=False)

    tok = _command(
        commands,
        "tokenizer",
        "train a SentencePiece model",
        "nlp-lstm tokenizer --data my.tsv --output sp.model --encode 'some text'",
        _tokenizer,
    )
    source = tok.add_mutually_exclusive_group()
    source.add_argument("--corpus", default="rotten_tomatoes", help="bundled corpus (train split)")
    source.add_argument("--data", help="a user file instead of a bundled corpus")
    tok.add_argument(
        "--kind",
        choices=("labelled", "text", "pairs"),
        default="labelled",
        help="how to read --data (labelled: TSV/CSV/JSONL)",
    )
    tok.add_argument(
        "--vocabulary-size",
        type=bounded(int, 1),
        default=8000,
        help="pieces, the four specials included (capped to what the text allows)",
    )
    tok.add_argument(
        "--model-type",
        choices=("unigram", "bpe"),
        default="unigram",
        help="SentencePiece algorithm",
    )
    tok.add_argument(
        "--character-coverage",
        type=bounded(float, 0, 1),
        default=0.9995,
        help="share of characters the pieces must cover",
    )
    tok.add_argument(
        "--lower-case",
        action="store_true",
        help="fold case in the model's normaliser (as the sentiment full preset)",
    )
    tok.add_argument("--output", required=True, help="where to write the .model file")
    tok.add_argument("--encode", nargs="*", metavar="TEXT", help="texts to show tokenized")

    predict = _command(
        commands,
        "predict",
        "classify texts with a sentiment export",
        "nlp-lstm predict --model saved_models/sentiment 'A fine film.' 'Dull.'",
        _predict,
    )
    predict.add_argument("--model", required=True, help=model_help)
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    _add_batch_flags(predict, "text", ("tsv", "jsonl"), 64)

    generate = _command(
        commands,
        "generate",
        "continue prompts with a generation export",
        "nlp-lstm generate --model saved_models/generation --prompt 'ROMEO:' --max-new-chars 300",
        _generate,
    )
    generate.add_argument("--model", required=True, help=model_help)
    generate.add_argument(
        "--prompt",
        action="append",
        help="prompt text (repeatable for a batch; default: empty prompt)",
    )
    _add_batch_flags(generate, "prompt (after any --prompt)", ("text", "jsonl", "tsv"), 32)
    generate.add_argument(
        "--max-new-chars",
        type=bounded(int, 0),
        default=300,
        help="characters to add to each prompt",
    )
    generate.add_argument(
        "--temperature",
        type=bounded(float, 0),
        default=0.8,
        help="sampling temperature; 0 = greedy",
    )
    generate.add_argument(
        "--top-k",
        type=bounded(int, 0),
        default=0,
        help="sample from the k likeliest characters; 0 = off",
    )
    generate.add_argument(
        "--top-p", type=bounded(float, 0, 1), default=1.0, help="nucleus sampling share; 1 = off"
    )
    generate.add_argument(
        "--seed",
        type=bounded(int, -(2**63), 2**63 - 1),
        default=1,
        help="sampling seed (a 64-bit integer)",
    )

    translate = _command(
        commands,
        "translate",
        "translate sentences with a translation export",
        "nlp-lstm translate --model saved_models/translation --input en.txt --output es.tsv",
        _translate,
    )
    translate.add_argument("--model", required=True, help=model_help)
    translate.add_argument("texts", nargs="*", metavar="TEXT")
    _add_batch_flags(translate, "sentence", ("tsv", "jsonl"), 64)
    translate.add_argument(
        "--beam-size",
        type=bounded(int, 0),
        default=0,
        help="1 = greedy; 0: the export's (see its nlp_lstm.json)",
    )
    translate.add_argument(
        "--max-length",
        type=bounded(int, 0),
        default=0,
        help="cap on tokens per translation, below the source-relative limit (0: that limit alone)",
    )
    translate.add_argument(
        "--plot-attention",
        metavar="PNG",
        help="draw the first translation's attention as a heatmap",
    )
    _add_serve(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command.

    Returns:
        The exit status: the command's (0 unless it says otherwise); 2 after a user error
        (one ``error:`` line); 128 + the signal's number after SIGINT or SIGTERM.
    """
    args = build_parser().parse_args(argv)
    if args.command in runner.COMMANDS:
        return runner.main(args.recipe, [args.command, *args.options], script=False)

    def run_command():
        if args.tensorflow:
            import_tensorflow(args.verbose)
        return args.run(args)

    return exit_status(run_command)


if __name__ == "__main__":
    sys.exit(main())
