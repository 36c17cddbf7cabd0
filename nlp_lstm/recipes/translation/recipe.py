"""The translation recipe: sentence pairs, the attention seq2seq model, BLEU and chrF."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nlp_lstm import config as config_lib
from nlp_lstm import corpora, metrics, plots
from nlp_lstm.data import ParallelExamples, batch_by_length, shuffled, with_known_length
from nlp_lstm.data.alternatives import first_reading, readings
from nlp_lstm.data.sources import parallel_splits
from nlp_lstm.distribute import build_before_fit
from nlp_lstm.losses import MaskedSequenceCrossEntropy
from nlp_lstm.models.translation import (
    DecodingSettings,
    InGraphTranslator,
    Translator,
    export_translator,
)
from nlp_lstm.recipes.base import Recipe, RecipeData
from nlp_lstm.recipes.translation import config as config_module
from nlp_lstm.recipes.translation.config import DEFAULT_CORPUS, PRESETS, TranslationConfig
from nlp_lstm.tokenization import BOS_ID, EOS_ID, SentencePieceTokenizer, train_sentencepiece
from nlp_lstm.training import (
    RunDirectory,
    epoch_size,
    training_record,
)

TOKENIZER_FILE = "sentencepiece.model"
BUCKETS = [8, 12, 16, 24, 32, 48]
ATTENTION_PLOTS = 4
EVALUATION_BATCH = 64


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


def learning_rate_schedule(
    config: TranslationConfig, steps: int
) -> keras.optimizers.schedules.CosineDecay:
    """Over ``steps``, a learning rate that rises linearly from 0 to ``learning_rate`` in
    ``warmup_steps`` (at most half of the steps), then decays along a cosine to a tenth."""
    warmup = min(config.warmup_steps, steps // 2)
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate,
        max(steps - warmup, 1),
        alpha=0.1,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def compile_model(model: Translator, config: TranslationConfig, steps: int) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate_schedule(config, steps), clipnorm=config.clipnorm
        ),
        loss=MaskedSequenceCrossEntropy(config.label_smoothing),
    )


def samples_from_export(version: Path, sources: list[str]) -> dict:
    from nlp_lstm import serving

    out = serving.load(version, config_module.NAME).signature(source=tf.constant(sources))
    return {s: t.decode("utf-8") for s, t in zip(sources, out["translation"].numpy())}


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
    """``source_language`` / ``target_language`` from ``--source`` / ``--target`` (or the
    same fields given as overrides, ``--source-language``); a side left unset is the
    bundled corpus's other language (its column order when neither is set). User files,
    TFDS datasets and corpora of other tasks (refused later, when read) default to the
    default corpus's languages."""
    bundled = corpora.CORPORA.get(corpus)
    languages = (
        bundled if bundled and bundled.languages else corpora.get(DEFAULT_CORPUS)
    ).languages
    given = dict(map(config_lib.parse_override, args.overrides))
    source = args.source or given.get("source_language")
    target = args.target or given.get("target_language")
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


class TranslationRecipe(Recipe):
    asset = TOKENIZER_FILE
    run_files = ("translations_test.tsv",)

    def resolve_config(self, args) -> TranslationConfig:
        """The preset of the corpus trained on (the default corpus's for user files and
        TFDS), the direction from ``--source`` / ``--target``, then the overrides;
        ``dictionary_pairs`` only where they exist (the bundled ``ding_en_de``)."""
        corpus = args.dataset or (None if args.data else DEFAULT_CORPUS)
        presets = PRESETS.get(corpus, PRESETS[DEFAULT_CORPUS])
        config = config_lib.resolve(
            TranslationConfig,
            presets,
            args.preset,
            args.overrides + language_overrides(args, corpus),
        )
        if config.dictionary_pairs and corpus != "ding_en_de":
            print(
                "note: dictionary_pairs adds Ding's headwords to the bundled ding_en_de "
                f"corpus only; training on {corpus or f'file {args.data}'} without them"
            )
            config = dataclasses.replace(config, dictionary_pairs=0)
        return config

    def read_data(self, args, config: TranslationConfig) -> RecipeData:
        return RecipeData(*load_splits(args, config))

    def start_training(self, args, config: TranslationConfig, data, run):
        if config.dictionary_pairs:
            print(
                f"adding {config.dictionary_pairs:,} of Ding's headword pairs to the training "
                "sentences"
            )
            splits = {**data.splits, "train": with_dictionary(data.splits["train"], config)}
            data = dataclasses.replace(data, splits=splits)
        return data

    def make_asset(self, args, config: TranslationConfig, data) -> bytes:
        train = training_pairs(data.splits["train"], config.alternatives)
        return train_sentencepiece(
            train.sources + train.targets,
            config.vocabulary_size,
            character_coverage=1.0,
            source=args.data or data.source,
        )

    def describe_asset(self, config) -> str:
        return (
            f"a joint SentencePiece model ({config.vocabulary_size} pieces) on both sides of "
            "the training split"
        )

    def start_finetuning(self, args, session, export, config, data):
        tokenizer = SentencePieceTokenizer(export.asset, name="tokenizer")
        validation = make_dataset(
            reference_pairs(data.splits["validation"], config.alternatives),
            tokenizer,
            config,
            False,
        )
        compile_model(export.model, config, 1)
        if session.strategy.num_replicas_in_sync > 1:  # see distribute.build_before_fit
            build_before_fit(export.model, session.strategy, next(iter(validation)))
        before = float(export.model.evaluate(validation, verbose=0))
        print(f"tokenizer kept; validation loss before fine-tuning: {before:.3f}")
        return export.model, data, {"validation_loss_before": before}

    def train(self, session, config: TranslationConfig, data, asset, model):
        run, splits = session.run, data.splits
        tokenizer = SentencePieceTokenizer(asset, name="tokenizer")
        train_pairs = training_pairs(splits["train"], config.alternatives)

        def make_batches(batch_size: int) -> tf.data.Dataset:
            return make_dataset(train_pairs, tokenizer, config, True, batch_size)

        validation = make_dataset(
            reference_pairs(splits["validation"], config.alternatives), tokenizer, config, False
        )
        if model is None:
            model = Translator(
                vocabulary_size=tokenizer.vocabulary_size(),
                embedding_dim=config.embedding_dim,
                encoder_units=config.encoder_units,
                encoder_layers=config.encoder_layers,
                decoder_units=config.decoder_units,
                decoder_layers=config.decoder_layers,
                dropout=config.dropout,
                embedding_dropout=config.embedding_dropout,
                cell=config.cell,
                scaled_attention=config.scaled_attention,
                tied_embeddings=config.tied_embeddings,
                word_dropout=config.word_dropout,
                input_feeding=config.input_feeding,
                name="translator",
            )
            model.build()
        # Counted without subword sampling, so every worker of a distributed run agrees.
        pass_steps, pass_tokens = epoch_size(
            make_dataset(
                train_pairs, tokenizer, dataclasses.replace(config, subword_alpha=0.0), True
            )
        )
        steps_per_epoch = config.steps_per_epoch or pass_steps
        tokens_per_epoch = pass_tokens * steps_per_epoch // pass_steps
        compile_model(model, config, config.epochs * steps_per_epoch)
        print(
            f"training on {len(train_pairs.sources):,} pairs ({len(splits['train'].sources):,} "
            f"before expanding '/' alternatives), vocabulary {tokenizer.vocabulary_size()}; "
            f"{model.count_params():,} parameters"
        )
        history = self.fit(
            session, model, make_batches, validation, config, steps_per_epoch, train_pairs
        )
        report = training_record(model, history, steps_per_epoch, tokens_per_epoch)
        report["validation_loss"] = float(model.evaluate(validation, verbose=0))
        print("translating the validation and test splits (greedy and beam search)")
        report.update(evaluate_model(model, tokenizer, config, splits, run))
        plots.training_curves(
            history,
            ["loss"],
            run.plots / "training_curves.png",
            title=f"translation: {data.source}",
        )
        return model, report

    def write_export(self, model, config: TranslationConfig, asset, saved, directory: Path) -> dict:
        settings = decoding_settings(config)
        tokenizer = SentencePieceTokenizer(asset, name="tokenizer")
        export_translator(model, tokenizer, settings, directory)
        return {
            "decoding": dataclasses.asdict(settings),
            "languages": {"source": config.source_language, "target": config.target_language},
        }

    def evaluate(self, export, config: TranslationConfig, data, split: str) -> dict:
        from nlp_lstm import serving

        loaded = serving.load(export.version, self.name)
        return score_split(
            loaded.module.signatures["translate"],
            reference_pairs(data.splits[split], config.alternatives),
            {"greedy": 1, "beam": config.beam_size},
        )["scores"]

    def summary(self, report: dict) -> list[str]:
        lines = []
        for split, searches in (("test", ("greedy", "beam")), ("validation", ("greedy",))):
            for search in searches:
                r = report[split][search]
                lines.append(
                    f"{split:<10} {search:<6} BLEU {r['bleu']:5.2f}  chrF {r['chrf']:5.2f}  "
                    f"(beam {r['beam_size']}, {r['sentences']:,} sentences, "
                    f"{r['sentences_per_second']:.0f} sentences/s)"
                )
        if "validation_loss_before" in report:
            lines.append(
                f"fine-tuning moved the validation loss from "
                f"{report['validation_loss_before']:.3f} to {report['validation_loss']:.3f}"
            )
        return lines

    def samples(self, version: Path, data) -> str:
        translations = samples_from_export(version, data.splits["test"].sources[:4])
        return "-- translations read back from the export\n" + "\n".join(
            f"  {source}\n    -> {translation}" for source, translation in translations.items()
        )


RECIPE = TranslationRecipe(config_module)
