"""The ``nlp-lstm`` command line.

    nlp-lstm corpora [--json]
    nlp-lstm predict --model saved_models/sentiment "A fine film." "Dull."
    nlp-lstm predict --model saved_models/sentiment --input texts.txt --format jsonl
    nlp-lstm generate --model saved_models/generation --prompt "ROMEO:" --max-new-chars 300
    nlp-lstm translate --model saved_models/translation "Where is the station?"
    nlp-lstm translate --model saved_models/translation --input en.txt --beam-size 1
    nlp-lstm translate --model saved_models/translation "I saw her." --plot-attention att.png
    nlp-lstm tokenizer --corpus rotten_tomatoes --vocabulary-size 8000 --output sp.model
    nlp-lstm tokenizer --data my.tsv --output sp.model --encode "some text"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nlp_lstm.errors import NlpLstmError


def _corpora(args) -> None:
    from nlp_lstm import corpora

    records = corpora.describe()
    if args.json:
        print(json.dumps(records, indent=2))
        return
    print(f"{'corpus':<16} {'task':<12} {'unit':<11} {'train':>9} {'validation':>11} {'test':>9}  source")
    for r in records:
        s = r["splits"]
        print(f"{r['name']:<16} {r['task']:<12} {r['unit']:<11} {s['train']:>9,} "
              f"{s['validation']:>11,} {s['test']:>9,}  {r['source']}")


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
        raise NlpLstmError("--output is a folder; give the model's file name (e.g. sp.model)",
                           path=output)
    texts = _training_texts(args)
    print(f"training a {args.model_type} SentencePiece model ({args.vocabulary_size} pieces) "
          f"on {len(texts):,} lines", file=sys.stderr)
    proto = train_sentencepiece(texts, args.vocabulary_size, args.model_type,
                                args.character_coverage, source=args.data or args.corpus,
                                lower_case=args.lower_case)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(proto)
    print(f"wrote {output} ({len(proto):,} bytes)")
    tokenizer = SentencePieceTokenizer(proto)
    for text in args.encode or []:
        ids = tokenizer.tokenize(tf.constant([text]))[0].numpy().tolist()
        pieces = [tokenizer.pieces()[i] for i in ids]
        print(json.dumps({"text": text, "ids": ids, "pieces": pieces}, ensure_ascii=False))


def _read_inputs(args) -> list[str]:
    from nlp_lstm.data import read_lines

    texts = list(args.texts or [])
    if args.input:
        texts += read_lines(args.input)
    if not texts:
        raise NlpLstmError("give texts as arguments or --input FILE (one text per line)")
    return texts


TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _write_rows(rows: list[dict], fmt: str) -> None:
    """JSON lines, or TSV with a header row whose fields escape backslash, tab, newline
    and carriage return with a backslash, so that every row is one line."""
    if fmt == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    print("\t".join(rows[0]))
    for row in rows:
        print("\t".join((json.dumps(v) if isinstance(v, list) else str(v)).translate(TSV_ESCAPES)
                        for v in row.values()))


def _predict(args) -> None:
    from nlp_lstm import serving

    model = serving.load(args.model, "sentiment")
    texts = _read_inputs(args)
    outputs = serving.run_batched(model.signature, {"text": texts}, args.batch_size)
    labels = model.metadata["labels"]
    rows = []
    for text, label, probabilities in zip(texts, outputs["label"], outputs["probabilities"]):
        rows.append({"text": text, "label": label.decode("utf-8"),
                     **{f"p_{name}": round(float(p), 4) for name, p in zip(labels, probabilities)}})
    _write_rows(rows, args.format)


def _generate(args) -> None:
    from nlp_lstm import serving
    from nlp_lstm.models.char_language_model import MAX_NEW_CHARS

    model = serving.load(args.model, "generation")
    if args.max_new_chars > MAX_NEW_CHARS:
        print(f"note: --max-new-chars {args.max_new_chars:,} is capped at {MAX_NEW_CHARS:,}",
              file=sys.stderr)
    prompts = list(args.prompt or [])
    if args.input:
        from nlp_lstm.data import read_lines
        prompts += read_lines(args.input)
    prompts = prompts or [""]
    outputs = serving.run_batched(
        model.signature, {"prompt": prompts}, args.batch_size,
        max_new_chars=tf_scalar(min(args.max_new_chars, MAX_NEW_CHARS), "int32"),
        temperature=tf_scalar(args.temperature, "float32"), top_k=tf_scalar(args.top_k, "int32"),
        top_p=tf_scalar(args.top_p, "float32"), seed=tf_scalar(args.seed, "int64"))
    for text in outputs["text"]:
        print(text.decode("utf-8", "replace"))
        if len(prompts) > 1:
            print("-" * 40)


def _translate(args) -> None:
    from nlp_lstm import plots, serving

    if args.plot_attention and Path(args.plot_attention).suffix.lower() != ".png":
        raise NlpLstmError(f"--plot-attention needs a .png file name, got {args.plot_attention}")
    model = serving.load(args.model, "translation")
    sources = _read_inputs(args)
    beam_size = args.beam_size or model.metadata["decoding"]["beam_size"]
    signature = model.module.signatures["translate"]
    controls = {"beam_size": tf_scalar(beam_size, "int32"),
                "max_length": tf_scalar(args.max_length, "int32")}
    outputs = serving.run_batched(signature, {"source": sources}, args.batch_size,
                                  keep=("translation", "score"), **controls)
    rows = [{"source": source, "translation": translation.decode("utf-8"),
             "score": round(float(score), 4)}
            for source, translation, score in zip(sources, outputs["translation"],
                                                   outputs["score"])]
    _write_rows(rows, args.format)
    if args.plot_attention:
        first = signature(source=tf_scalar(sources[:1], "string"), **controls)
        source_pieces = [p.decode() for p in first["source_pieces"][0].numpy() if p]
        target_pieces = [p.decode() for p in first["target_pieces"][0].numpy() if p]
        Path(args.plot_attention).parent.mkdir(parents=True, exist_ok=True)
        path = plots.attention(first["attention"][0].numpy(), source_pieces, target_pieces,
                               Path(args.plot_attention),
                               title=f"{sources[0]}\n{rows[0]['translation']}")
        print(f"wrote the attention of the first translation to {path}", file=sys.stderr)


def tf_scalar(value, dtype: str):
    import tensorflow as tf

    return tf.constant(value, dtype=dtype)


def bounded(kind: type, low: float, high: float | None = None):
    """An argparse type: ``kind`` within ``[low, high]``, else a usage error."""
    def parse(text: str):
        value = kind(text)
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bounds}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlp-lstm", description="LSTM NLP recipes: tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("corpora", help="list the bundled corpora with split counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=_corpora)

    tok = commands.add_parser("tokenizer", help="train a SentencePiece model")
    source = tok.add_mutually_exclusive_group()
    source.add_argument("--corpus", default="rotten_tomatoes", help="bundled corpus (train split)")
    source.add_argument("--data", help="a user file instead of a bundled corpus")
    tok.add_argument("--kind", choices=("labelled", "text", "pairs"), default="labelled",
                     help="how to read --data (default: labelled TSV/CSV/JSONL)")
    tok.add_argument("--vocabulary-size", type=bounded(int, 1), default=8000)
    tok.add_argument("--model-type", choices=("unigram", "bpe"), default="unigram")
    tok.add_argument("--character-coverage", type=float, default=0.9995)
    tok.add_argument("--lower-case", action="store_true",
                     help="fold case in the model's normaliser (as the sentiment full preset)")
    tok.add_argument("--output", required=True, help="where to write the .model file")
    tok.add_argument("--encode", nargs="*", metavar="TEXT", help="texts to show tokenized")
    tok.set_defaults(run=_tokenizer)

    predict = commands.add_parser("predict", help="classify texts with a sentiment export")
    predict.add_argument("--model", required=True,
                         help="export version directory, or task folder (newest version)")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--input", help="a UTF-8 file with one text per line")
    predict.add_argument("--format", choices=("tsv", "jsonl"), default="tsv")
    predict.add_argument("--batch-size", type=bounded(int, 1), default=64)
    predict.set_defaults(run=_predict)

    generate = commands.add_parser("generate", help="continue prompts with a generation export")
    generate.add_argument("--model", required=True,
                          help="export version directory, or task folder (newest version)")
    generate.add_argument("--prompt", action="append",
                          help="prompt text (repeatable for a batch; default: empty prompt)")
    generate.add_argument("--input", help="a UTF-8 file with one prompt per line (after "
                          "any --prompt)")
    generate.add_argument("--max-new-chars", type=bounded(int, 0), default=300)
    generate.add_argument("--temperature", type=bounded(float, 0), default=0.8, help="0 = greedy")
    generate.add_argument("--top-k", type=bounded(int, 0), default=0, help="0 = off")
    generate.add_argument("--top-p", type=bounded(float, 0, 1), default=1.0, help="1 = off")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--batch-size", type=bounded(int, 1), default=32)
    generate.set_defaults(run=_generate)

    translate = commands.add_parser("translate", help="translate sentences with a translation export")
    translate.add_argument("--model", required=True,
                           help="export version directory, or task folder (newest version)")
    translate.add_argument("texts", nargs="*", metavar="TEXT")
    translate.add_argument("--input", help="a UTF-8 file with one sentence per line")
    translate.add_argument("--beam-size", type=bounded(int, 0), default=0,
                           help="1 = greedy; default: the export's (see its nlp_lstm.json)")
    translate.add_argument("--max-length", type=bounded(int, 0), default=0,
                           help="cap on tokens per translation, below the source-relative "
                                "limit (0: that limit alone)")
    translate.add_argument("--plot-attention", metavar="PNG",
                           help="draw the first translation's attention as a heatmap")
    translate.add_argument("--format", choices=("tsv", "jsonl"), default="tsv")
    translate.add_argument("--batch-size", type=bounded(int, 1), default=64)
    translate.set_defaults(run=_translate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except NlpLstmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
