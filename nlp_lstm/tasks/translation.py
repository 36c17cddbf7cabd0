"""Translation runner: train, evaluate, export and fine-tune the attention seq2seq model."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import config as config_lib
from nlp_lstm import corpora, metrics, plots, recipe_args
from nlp_lstm import export as export_lib
from nlp_lstm.data import ParallelExamples, batch_by_length, shuffled, with_known_length
from nlp_lstm.data.alternatives import first_reading, readings
from nlp_lstm.data.sources import parallel_splits
from nlp_lstm.distribute import build_before_fit
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.layers.cells import check_cell
from nlp_lstm.losses import MaskedSequenceCrossEntropy
from nlp_lstm.models.translator import (
    DecodingSettings,
    InGraphTranslator,
    Translator,
    export_translator,
)
from nlp_lstm.tokenization import BOS_ID, EOS_ID, SentencePieceTokenizer, train_sentencepiece
from nlp_lstm.training import (
    RunDirectory,
    TrainingSession,
    epoch_size,
    fit,
    run_key,
    training_record,
)

TASK = "translation"
DEFAULT_CORPUS = "tatoeba_en_es"
TOKENIZER_FILE = "sentencepiece.model"
BUCKETS = [8, 12, 16, 24, 32, 48]
ATTENTION_PLOTS = 4
EVALUATION_BATCH = 64


@dataclasses.dataclass
class TranslationConfig:
    """Everything that shapes a translation run (saved with the run and the export)."""

    source_language: str = "en"
    target_language: str = "es"
    cell: str = "lstm"
    vocabulary_size: int = 4000
    embedding_dim: int = 128
    encoder_units: int = 128
    encoder_layers: int = 1
    decoder_units: int = 256
    decoder_layers: int = 1
    scaled_attention: bool = True
    tied_embeddings: bool = False
    dropout: float = 0.1
    embedding_dropout: float = 0.1
    word_dropout: float = 0.0
    label_smoothing: float = 0.1
    batch_size: int = 64
    epochs: int = 1
    learning_rate: float = 3e-3
    clipnorm: float = 1.0
    patience: int = 3
    max_train_tokens: int = 24
    alternatives: int = 0
    dictionary_pairs: int = 0
    subword_alpha: float = 0.0
    beam_size: int = 4
    length_penalty: float = 0.6
    seed: int = 1

    def __post_init__(self):
        check_cell(self.cell)  # at once, before a tokenizer is trained
        config_lib.check_ranges(self, RANGES)


RANGES = {
    "vocabulary_size": config_lib.POSITIVE,
    "embedding_dim": config_lib.POSITIVE,
    "encoder_units": config_lib.POSITIVE,
    "encoder_layers": config_lib.POSITIVE,
    "decoder_units": config_lib.POSITIVE,
    "decoder_layers": config_lib.POSITIVE,
    "dropout": config_lib.RATE,
    "embedding_dropout": config_lib.RATE,
    "word_dropout": config_lib.RATE,
    "label_smoothing": config_lib.RATE,
    "batch_size": config_lib.POSITIVE,
    "epochs": config_lib.POSITIVE,
    "learning_rate": config_lib.SCALE,
    "clipnorm": config_lib.SCALE,
    "patience": config_lib.NON_NEGATIVE,
    "max_train_tokens": config_lib.Range(2),
    "alternatives": config_lib.NON_NEGATIVE,
    "dictionary_pairs": config_lib.NON_NEGATIVE,
    "subword_alpha": config_lib.Range(0, 1, high_closed=True),
    "beam_size": config_lib.POSITIVE,
    "length_penalty": config_lib.NON_NEGATIVE,
    "seed": config_lib.SEED,
}


# Presets per corpus: the bundled corpora differ in size and kind, and so do the settings
# that suit them. User files and TFDS datasets take the default corpus's presets.
PRESETS = {
    "tatoeba_en_es": {
        # About 5 minutes on 2 CPU cores: one pass over the 127k pairs (a second pass does
        # not fit), batches of 64 at a high learning rate; '/' is text here ("20/20").
        "quick": {},
        # Sized for about an hour on 2 CPU cores from the quick preset's measured speed:
        # wider, tied embeddings (Press & Wolf, 2017), a cosine decay over 12 passes.
        "full": {
            "vocabulary_size": 8000,
            "embedding_dim": 256,
            "encoder_units": 256,
            "decoder_units": 256,
            "tied_embeddings": True,
            "dropout": 0.2,
            "epochs": 12,
            "learning_rate": 2e-3,
            "max_train_tokens": 48,
        },
    },
    "ding_en_de": {
        # 3 to 4 minutes on 2 CPU cores: a small model on the pairs of up to 19 pieces (+ eos).
        "quick": {
            "vocabulary_size": 2000,
            "embedding_dim": 96,
            "encoder_units": 96,
            "decoder_units": 192,
            "dropout": 0.2,
            "batch_size": 32,
            "epochs": 5,
            "learning_rate": 3e-3,
            "max_train_tokens": 20,
            "alternatives": 2,
        },
        # Just under an hour on 2 CPU cores in float32 (11 epochs). A small vocabulary, heavy
        # dropout and tied embeddings suit a corpus of ~18k sentence pairs (Sennrich & Zhang,
        # 2019); 30,000 of Ding's headword pairs teach words the sentences lack (test BLEU
        # 3.5 -> 5.0), and a 256-unit decoder runs twice the epochs of a 512-unit one in the
        # same time.
        "full": {
            "vocabulary_size": 4000,
            "embedding_dim": 256,
            "encoder_units": 256,
            "decoder_units": 256,
            "tied_embeddings": True,
            "dropout": 0.3,
            "batch_size": 64,
            "epochs": 11,
            "learning_rate": 2e-3,
            "max_train_tokens": 48,
            "alternatives": 2,
            "dictionary_pairs": 30000,
        },
    },
}
FINETUNE = {"epochs": 4, "learning_rate": 5e-4, "patience": 2, "dictionary_pairs": 0}


def training_pairs(pairs: ParallelExamples, alternatives: int) -> ParallelExamples:
    """Every pair once per reading (up to ``alternatives``) of its ``/`` alternatives;
    with ``alternatives == 0`` a ``/`` is text like any other and the pairs stay as given."""
    if not alternatives:
        return pairs
    sources, targets = [], []
    for source, target in zip(pairs.sources, pairs.targets):
        source_readings = readings(source, alternatives)
        target_readings = readings(target, alternatives)
        for k in range(max(len(source_readings), len(target_readings))):
            sources.append(source_readings[min(k, len(source_readings) - 1)])
            targets.append(target_readings[min(k, len(target_readings) - 1)])
    return ParallelExamples(sources, targets)


def with_dictionary(train: ParallelExamples, config: TranslationConfig) -> ParallelExamples:
    """``train`` plus a seeded sample of ``config.dictionary_pairs`` of Ding's headword
    pairs (``corpora.load_dictionary``), oriented like the sentences."""
    english, german = corpora.load_dictionary()
    sides = {"en": english, "de": german}
    sample = random.Random(config.seed).sample(
        range(len(english)), min(config.dictionary_pairs, len(english))
    )
    return ParallelExamples(
        train.sources + [sides[config.source_language][i] for i in sample],
        train.targets + [sides[config.target_language][i] for i in sample],
    )


def reference_pairs(pairs: ParallelExamples, alternatives: int) -> ParallelExamples:
    """The clean sentences evaluated against: each side's first reading of its ``/``
    alternatives (the sentences as given when ``alternatives == 0``)."""
    if not alternatives:
        return pairs
    return ParallelExamples(
        [first_reading(s) for s in pairs.sources], [first_reading(t) for t in pairs.targets]
    )


def make_dataset(
    pairs: ParallelExamples,
    tokenizer: SentencePieceTokenizer,
    config: TranslationConfig,
    training: bool,
    batch_size: int | None = None,
) -> tf.data.Dataset:
    """Length-bucketed batches of ``((source_ids, target_inputs), target_outputs)``
    (``batch_size`` defaults to the config's).

    Sources end with eos; target inputs start with bos, target outputs end with
    eos. Training leaves out pairs with a side (eos counted) longer than
    ``max_train_tokens`` (a common NMT practice: long pairs cost the most and teach the least);
    evaluation truncates them instead, so every pair counts, and its batches carry
    their count (``with_known_length``).
    """
    dataset = tf.data.Dataset.from_tensor_slices((pairs.sources, pairs.targets))
    length = config.max_train_tokens - 1
    sample = training and config.subword_alpha > 0

    def encode(source, target):
        tokenize = (
            (lambda t: tokenizer.sampling_tokenize(t, config.subword_alpha))
            if sample
            else tokenizer.tokenize
        )
        source, target = tokenize(source), tokenize(target)
        if not training:
            source, target = source[:length], target[:length]
        return (
            tf.concat([source, [EOS_ID]], 0),
            tf.concat([[BOS_ID], target], 0),
            tf.concat([target, [EOS_ID]], 0),
        )

    def short_enough(source, target_in, target_out):
        return tf.maximum(tf.shape(source)[0], tf.shape(target_out)[0]) <= config.max_train_tokens

    if sample:
        dataset = shuffled(dataset, seed=config.seed).map(
            encode, num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE).cache()
        if training:
            dataset = shuffled(dataset, seed=config.seed, cache=False)
    if training:
        dataset = dataset.filter(short_enough)
    batches = batch_by_length(dataset, batch_size or config.batch_size, BUCKETS).map(
        lambda source, target_in, target_out: ((source, target_in), target_out)
    )
    return batches if training else with_known_length(batches)


def decoding_settings(config: TranslationConfig) -> DecodingSettings:
    return DecodingSettings(beam_size=config.beam_size, length_penalty=config.length_penalty)


def translate_texts(
    translate, sources: list[str], beam_size: int, batch_size: int = EVALUATION_BATCH
) -> tuple[list[str], np.ndarray]:
    """Runs ``translate(source=, beam_size=, max_length=)`` over ``sources`` in batches of
    similar length; returns the translations and scores in the original order."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    translations, scores = [""] * len(sources), np.zeros(len(sources), np.float32)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        out = translate(
            source=tf.constant([sources[i] for i in index]),
            beam_size=tf.constant(beam_size),
            max_length=tf.constant(0),
        )
        for i, text, score in zip(index, out["translation"].numpy(), out["score"].numpy()):
            translations[i], scores[i] = text.decode("utf-8"), score
    return translations, scores


def references_by_source(pairs: ParallelExamples) -> tuple[list[str], list[list[str]]]:
    """Each distinct source sentence once, with every translation its split gives it as a
    reference, in order of first appearance."""
    grouped: dict[str, list[str]] = {}
    for source, target in zip(pairs.sources, pairs.targets):
        references = grouped.setdefault(source, [])
        if target not in references:
            references.append(target)
    return list(grouped), list(grouped.values())


def score_split(translate, pairs: ParallelExamples, beam_sizes: dict[str, int]) -> dict:
    """BLEU and chrF per search (e.g. ``{"greedy": 1, "beam": 4}``) of each distinct
    source against all of its references (``references_by_source``), with timing."""
    sources, references = references_by_source(pairs)
    report, outputs = {}, {}
    for search, beam_size in beam_sizes.items():
        start = time.time()
        hypotheses, _ = translate_texts(translate, sources, beam_size)
        seconds = time.time() - start
        report[search] = {
            **metrics.translation_scores(hypotheses, references),
            "beam_size": beam_size,
            "sentences_per_second": len(hypotheses) / seconds,
        }
        outputs[search] = hypotheses
    return {"scores": report, "sources": sources, "references": references, "hypotheses": outputs}


def evaluate_model(
    model: Translator, tokenizer, config, splits: dict[str, ParallelExamples], run: RunDirectory
) -> dict:
    """Test BLEU/chrF (greedy and beam), validation BLEU/chrF (greedy), translations
    of the test split as TSV and a few attention heatmaps."""
    translator = InGraphTranslator(model, tokenizer, decoding_settings(config))
    translate = tf.function(translator.translate, reduce_retracing=True)
    test = reference_pairs(splits["test"], config.alternatives)
    scored = score_split(translate, test, {"greedy": 1, "beam": config.beam_size})
    report = {
        "test": scored["scores"],
        "validation": score_split(
            translate, reference_pairs(splits["validation"], config.alternatives), {"greedy": 1}
        )["scores"],
    }
    rows = ["source\tgreedy\tbeam\treferences"] + [
        "\t".join((source, greedy, beam, *refs))
        for source, greedy, beam, refs in zip(
            scored["sources"],
            scored["hypotheses"]["greedy"],
            scored["hypotheses"]["beam"],
            scored["references"],
        )
    ]
    (run.path / "translations_test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    plot_attention(translate, scored["sources"][:ATTENTION_PLOTS], config.beam_size, run.plots)
    return report


def plot_attention(translate, sources: list[str], beam_size: int, folder: Path) -> list[Path]:
    """One attention heatmap per source sentence (``attention_<i>.png``)."""
    out = translate(
        source=tf.constant(sources), beam_size=tf.constant(beam_size), max_length=tf.constant(0)
    )
    paths = []
    for i, source in enumerate(sources):
        source_pieces = [p.decode() for p in out["source_pieces"][i].numpy() if p]
        target_pieces = [p.decode() for p in out["target_pieces"][i].numpy() if p]
        paths.append(
            plots.attention(
                out["attention"][i].numpy(),
                source_pieces,
                target_pieces,
                folder / f"attention_{i + 1}.png",
                title=f"{source}\n{out['translation'][i].numpy().decode()}",
            )
        )
    return paths


def compile_model(model: Translator, config: TranslationConfig, steps: int) -> None:
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, max(steps, 1), alpha=0.1
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=config.clipnorm),
        loss=MaskedSequenceCrossEntropy(config.label_smoothing),
    )


def train_and_export(
    splits: dict[str, ParallelExamples],
    proto: bytes,
    config,
    session: TrainingSession,
    source: str,
    model: Translator | None = None,
    extra_report: dict | None = None,
) -> dict:
    """The common tail of train and finetune: fit, evaluate, plot, save, export."""
    keras.utils.set_random_seed(config.seed)
    run = session.run
    tokenizer = SentencePieceTokenizer(proto, name="tokenizer")
    train_pairs = training_pairs(splits["train"], config.alternatives)

    def make_batches(batch_size: int) -> tf.data.Dataset:
        return make_dataset(train_pairs, tokenizer, config, True, batch_size)

    validation = make_dataset(
        reference_pairs(splits["validation"], config.alternatives), tokenizer, config, False
    )
    if model is None:
        model = Translator(
            tokenizer.vocabulary_size(),
            config.embedding_dim,
            config.encoder_units,
            config.encoder_layers,
            config.decoder_units,
            config.decoder_layers,
            config.dropout,
            config.embedding_dropout,
            config.cell,
            config.scaled_attention,
            config.tied_embeddings,
            config.word_dropout,
            name="translator",
        )
        model.build()
    # Counted without subword sampling, so every worker of a distributed run agrees.
    steps_per_epoch, tokens_per_epoch = epoch_size(
        make_dataset(train_pairs, tokenizer, dataclasses.replace(config, subword_alpha=0.0), True)
    )
    compile_model(model, config, config.epochs * steps_per_epoch)
    print(
        f"training on {len(train_pairs.sources):,} pairs ({len(splits['train'].sources):,} "
        f"before expanding '/' alternatives), vocabulary {tokenizer.vocabulary_size()}; "
        f"{model.count_params():,} parameters"
    )
    history = fit(
        model,
        make_batches,
        validation,
        run,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        patience=config.patience,
        key=run_key(config, train_pairs),
        strategy=session.strategy,
        checkpoint_every=session.checkpoint_every,
    )
    report = {
        **training_record(model, history, steps_per_epoch, tokens_per_epoch),
        **(extra_report or {}),
    }
    report["validation_loss"] = float(model.evaluate(validation, verbose=0))
    print("translating the validation and test splits (greedy and beam search)")
    report.update(evaluate_model(model, tokenizer, config, splits, run))
    run.write_json("metrics.json", report)
    plots.training_curves(
        history, ["loss"], run.plots / "training_curves.png", title=f"translation: {source}"
    )
    model.save(run.keras_model)
    (run.path / TOKENIZER_FILE).write_bytes(proto)
    run.write_json(
        "config.json", {"task": TASK, "config": dataclasses.asdict(config), "corpus": source}
    )
    return {"report": report, "export": export_run(run, session.export_dir, report)}


def export_run(run: RunDirectory, export_dir: Path, report: dict | None = None) -> Path:
    """Exports a finished run as the next version under ``export_dir``."""
    saved, model, saved_report = run.load_finished(TASK)
    proto = run.read_bytes(TOKENIZER_FILE)
    config = config_lib.from_dict(TranslationConfig, saved["config"])
    report = report or saved_report
    settings = decoding_settings(config)

    def write(directory: Path):
        export_translator(
            model, SentencePieceTokenizer(proto, name="tokenizer"), settings, directory
        )
        (directory / "assets").mkdir(exist_ok=True)
        (directory / "assets" / TOKENIZER_FILE).write_bytes(proto)
        export_lib.add_keras_model(directory, run.keras_model)
        export_lib.write_metadata(
            directory,
            TASK,
            config=saved["config"],
            decoding=dataclasses.asdict(settings),
            languages={"source": config.source_language, "target": config.target_language},
            corpus=saved["corpus"],
            metrics=report,
            run_dir=str(run.path),
        )

    return export_lib.write_version(export_dir, write)


def load_export(path: Path) -> tuple[Path, dict, Translator, bytes]:
    """An export's directory, metadata, Keras model and tokenizer bytes."""
    version, metadata, model, assets = export_lib.load_trainable(path, TASK, (TOKENIZER_FILE,))
    return version, metadata, model, assets[TOKENIZER_FILE]


def print_summary(result: dict, run: RunDirectory, seconds: float, samples: dict) -> None:
    report = result["report"]
    print("\n== translation summary")
    for split, searches in (("test", ("greedy", "beam")), ("validation", ("greedy",))):
        for search in searches:
            r = report[split][search]
            print(
                f"  {split:<10} {search:<6} BLEU {r['bleu']:5.2f}  chrF {r['chrf']:5.2f}  "
                f"(beam {r['beam_size']}, {r['sentences']:,} sentences, "
                f"{r['sentences_per_second']:.0f} sentences/s)"
            )
    print(f"  run dir    {run.path}  (metrics.json, translations_test.tsv, plots/, logs/)")
    print(f"  export     {result['export']}")
    print(f"  weights    sha256 {report['weights_sha256']}")
    print(
        f"  speed      {report['tokens_per_second']:,.0f} training tokens/s, "
        f"{report['parameters']:,} parameters"
    )
    print(f"  time       {seconds:.0f} s (training {report['training_seconds']:.0f} s)")
    print("\n-- translations read back from the export")
    for source, translation in samples.items():
        print(f"  {source}\n    -> {translation}")


def samples_from_export(version: Path, sources: list[str]) -> dict:
    from nlp_lstm import serving

    out = serving.load(version, TASK).signature(source=tf.constant(sources))
    return {s: t.decode("utf-8") for s, t in zip(sources, out["translation"].numpy())}


def command_train(args) -> None:
    start = time.time()
    corpus = args.dataset or (None if args.data else DEFAULT_CORPUS)
    presets = PRESETS.get(corpus, PRESETS[DEFAULT_CORPUS])
    config = config_lib.resolve(
        TranslationConfig, presets, args.preset, args.overrides + language_overrides(args, corpus)
    )
    if config.tied_embeddings and config.decoder_units != config.embedding_dim:
        raise NlpLstmError(
            f"tied_embeddings needs decoder_units ({config.decoder_units}) "
            f"equal to embedding_dim ({config.embedding_dim}); change one, or "
            "pass --tied-embeddings false"
        )
    with recipe_args.training_session(args) as session:
        splits, source = load_splits(args, config)
        if config.dictionary_pairs and corpus != "ding_en_de":
            print(
                f"note: dictionary_pairs adds Ding's headwords to the bundled ding_en_de "
                f"corpus only; training on {source} without them"
            )
            config = dataclasses.replace(config, dictionary_pairs=0)
        if config.dictionary_pairs:
            splits["train"] = with_dictionary(splits["train"], config)
            print(
                f"adding {config.dictionary_pairs:,} of Ding's headword pairs to the training "
                "sentences"
            )
        train = training_pairs(splits["train"], config.alternatives)
        proto = session.run.reuse_or_write(
            TOKENIZER_FILE,
            lambda: train_sentencepiece(
                train.sources + train.targets,
                config.vocabulary_size,
                character_coverage=1.0,
                source=args.data or source,
            ),
            f"a joint SentencePiece model "
            f"({config.vocabulary_size} pieces) on both sides of the training split",
        )
        session.run.write_json(
            "config.json", {"task": TASK, "config": dataclasses.asdict(config), "corpus": source}
        )
        result = train_and_export(splits, proto, config, session, source)
        samples = samples_from_export(result["export"], splits["test"].sources[:4])
        print_summary(result, session.run, time.time() - start, samples)


def load_splits(args, config: TranslationConfig) -> tuple[dict[str, ParallelExamples], str]:
    """The run's train/validation/test pairs (``--data`` with its optional files, or
    ``--dataset``), oriented by the config's languages."""
    return parallel_splits(
        args.data,
        args.dataset,
        DEFAULT_CORPUS,
        config.seed,
        config.source_language,
        config.target_language,
        args.skip_bad_rows,
        args.target_data,
        args.validation_data,
        args.test_data,
    )


def language_overrides(args, corpus: str | None) -> list[str]:
    """``source_language`` / ``target_language`` from ``--source`` / ``--target``; a side
    left unset is the bundled corpus's other language (its column order when neither is
    set). User files, TFDS datasets and corpora of other tasks (refused later, when read)
    default to the default corpus's languages."""
    bundled = corpora.CORPORA.get(corpus)
    languages = (
        bundled if bundled and bundled.languages else corpora.get(DEFAULT_CORPUS)
    ).languages
    source, target = args.source, args.target
    if source and not target:
        target = next((lang for lang in languages if lang != source), None)
    elif target and not source:
        source = next((lang for lang in languages if lang != target), None)
    elif not source:
        source, target = languages
    return [
        f"{field}={value}"
        for field, value in (("source_language", source), ("target_language", target))
        if value
    ]


def command_finetune(args) -> None:
    start = time.time()
    with recipe_args.training_session(args) as session:
        version, metadata, model, proto = load_export(args.source_export)
        config = config_lib.resolve_finetuning(
            TranslationConfig, metadata["config"], FINETUNE, args.overrides
        )
        splits, source = load_splits(args, config)
        tokenizer = SentencePieceTokenizer(proto, name="tokenizer")
        validation = make_dataset(
            reference_pairs(splits["validation"], config.alternatives), tokenizer, config, False
        )
        compile_model(model, config, 1)
        if session.strategy.num_replicas_in_sync > 1:  # see distribute.build_before_fit
            build_before_fit(model, session.strategy, next(iter(validation)))
        before = float(model.evaluate(validation, verbose=0))
        print(
            f"fine-tuning {version} on {source} (tokenizer kept); validation loss before: "
            f"{before:.3f}"
        )
        result = train_and_export(
            splits,
            proto,
            config,
            session,
            f"{source}; fine-tuned from {version}",
            model,
            {"validation_loss_before": before},
        )
        print(
            f"validation loss: {before:.3f} before, {result['report']['validation_loss']:.3f} "
            "after fine-tuning"
        )
        samples = samples_from_export(result["export"], splits["test"].sources[:4])
        print_summary(result, session.run, time.time() - start, samples)


def command_export(args) -> None:
    print(f"exported {export_run(RunDirectory(args.run_dir, create=False), args.export_dir)}")


def command_evaluate(args) -> None:
    from nlp_lstm import serving

    loaded = serving.load(args.model, TASK)
    config = config_lib.from_dict(TranslationConfig, loaded.metadata["config"])
    splits, source = load_splits(args, config)
    scored = score_split(
        loaded.module.signatures["translate"],
        reference_pairs(splits[args.split], config.alternatives),
        {"greedy": 1, "beam": config.beam_size},
    )
    print(
        json.dumps(
            {"export": str(loaded.path), "data": source, "split": args.split, **scored["scores"]},
            indent=2,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser, commands = recipe_args.build_parser(
        TASK,
        "Translation with a BiLSTM encoder and an attention LSTM decoder. The presets "
        "fit the corpus they train on: tatoeba_en_es (the default; quick: one pass over "
        "127k everyday pairs, about 5 minutes on 2 CPU cores) and ding_en_de (quick: 5 "
        "passes over 18k idiomatic pairs; full: tied embeddings and Ding's headwords); "
        "user files and TFDS datasets take tatoeba_en_es's.",
        config_type=TranslationConfig,
        ranges=RANGES,
    )
    commands["train"].add_argument(
        "--source", help="source language code (default: the corpus's first column, en)"
    )
    commands["train"].add_argument(
        "--target", help="target language code (default: the corpus's other language)"
    )
    for name in ("train", "finetune", "evaluate"):
        commands[name].add_argument(
            "--target-data",
            help="with --data: a second file, line-aligned with it, holding the target sentences",
        )
        commands[name].add_argument(
            "--validation-data",
            help="with --data: a TSV of validation pairs (then --data is not split)",
        )
        commands[name].add_argument("--test-data", help="with --data: a TSV of test pairs")
    return recipe_args.run(
        parser,
        argv,
        {
            "train": command_train,
            "finetune": command_finetune,
            "export": command_export,
            "evaluate": command_evaluate,
        },
    )
