"""The one runner: the ``train``, ``evaluate``, ``export`` and ``finetune`` commands, written
once for every recipe (``nlp_lstm.recipes``), each recipe stating only what is its own.

    nlp-lstm train    RECIPE [--preset quick|full] [--data PATH | --dataset NAME]
                             [--run-dir DIR] [--export-dir DIR] [--strategy NAME]
                             [--checkpoint-every STEPS] [--precision NAME]
                             [--<config-field> VALUE ...]
    nlp-lstm evaluate RECIPE --model EXPORT [--data PATH | --dataset NAME] [--split test]
    nlp-lstm export   RECIPE --run-dir DIR [--export-dir DIR]
    nlp-lstm finetune RECIPE --from EXPORT [--data PATH | --dataset NAME] [--run-dir DIR]
                             [--export-dir DIR] [--<config-field> VALUE ...]

``python recipes/RECIPE.py COMMAND ...`` runs the same. ``finetune`` starts from the
export's saved config, not a preset. Any config field can be overridden as
``--field-name value`` (or ``--set field=value``); every command takes ``--verbose``
(TensorFlow's own log lines).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from nlp_lstm import __version__, import_tensorflow, recipes
from nlp_lstm.config import (
    CHECKPOINT_EVERY,
    PRECISIONS,
    STRATEGIES,
    HelpFormatter,
    bounded,
    describe_fields,
)
from nlp_lstm.errors import NlpLstmError, exit_status

if TYPE_CHECKING:
    from nlp_lstm.recipes.base import LoadedExport, Recipe, RecipeData
    from nlp_lstm.training import RunDirectory, TrainingSession

COMMANDS = {
    "train": "train, evaluate on the test split, export",
    "evaluate": "evaluate an export on a split",
    "export": "export a finished run's best weights",
    "finetune": "continue training an export on new data, export again",
}


def invocation(name: str, script: bool) -> str:
    """How a recipe command is spelled: ``recipes/NAME.py {command}`` or
    ``nlp-lstm {command} NAME`` (``{command}`` left to fill)."""
    return f"recipes/{name}.py {{command}}" if script else f"nlp-lstm {{command}} {name}"


def examples(spec: ModuleType) -> dict[str, str]:
    """One example of each command's flags, for its ``--help``."""
    data = "my.tsv" if spec.ROWS else "my.txt"
    models = f"saved_models/{spec.NAME}"
    return {
        "train": f"--data {data} --epochs 3 --run-dir runs/mine",
        "evaluate": f"--model {models} --split validation",
        "export": "--run-dir runs/mine",
        "finetune": f"--from {models} --data {data}",
    }


def build_parser(
    spec: ModuleType, script: bool = True
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The recipe's parser: the runner's commands and flags, then the recipe's own
    (``spec.add_arguments``).

    Args:
        spec: the recipe's ``config`` module.
        script: spelled as ``recipes/NAME.py COMMAND`` (else ``nlp-lstm COMMAND NAME``).

    Returns:
        ``(parser, command parsers by name)``.
    """
    spelled = invocation(spec.NAME, script)
    parser = argparse.ArgumentParser(
        prog=spelled.format(command="").replace("  ", " ").strip(),
        description=spec.DESCRIPTION,
        formatter_class=HelpFormatter,
        epilog="Any config field can be set as --field-name VALUE "
        "on train and finetune; see train --help.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(recipe=spec.NAME)
    commands = parser.add_subparsers(dest="command", required=True)
    fields = (
        "\n\nconfig fields (defaults of the quick preset; set as --field-name VALUE):\n"
        + describe_fields(spec.CONFIG, spec.RANGES)
    )
    parsers = {}
    for name, help_text in COMMANDS.items():
        example = f"{spelled.format(command=name)} {examples(spec)[name]}"
        example = f"python {example}" if script else example
        sub = parsers[name] = commands.add_parser(
            name,
            prog=spelled.format(command=name),
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}" + (fields if name == "train" else ""),
            formatter_class=HelpFormatter,
        )
        sub.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
        if name in ("train", "finetune", "evaluate"):
            source = sub.add_mutually_exclusive_group()
            source.add_argument(
                "--data",
                help=f"a user file, split 80/10/10 {spec.DATA_SPLIT}",
            )
            source.add_argument("--dataset", help="a bundled corpus name or tfds:NAME")
            if spec.ROWS:
                sub.add_argument(
                    "--skip-bad-rows",
                    action="store_true",
                    help="skip malformed rows (counted) instead of stopping",
                )
        if name == "train":
            sub.add_argument(
                "--preset",
                choices=("quick", "full"),
                default="quick",
                help="the config to start from",
            )
        if name in ("train", "finetune"):
            sub.add_argument(
                "--set",
                action="append",
                default=[],
                metavar="FIELD=VALUE",
                help="override a config field (repeatable)",
            )
            sub.add_argument(
                "--strategy",
                choices=STRATEGIES,
                default="auto",
                help="tf.distribute strategy (auto: mirrored on several GPUs; "
                "multi-worker reads TF_CONFIG)",
            )
            sub.add_argument(
                "--precision",
                choices=PRECISIONS,
                default="auto",
                help="training precision (auto: bfloat16 where the CPU or GPU "
                "multiplies it natively, else float32); exports are float32",
            )
            sub.add_argument(
                "--checkpoint-every",
                type=bounded(int, 1),
                default=CHECKPOINT_EVERY,
                metavar="STEPS",
                help="steps between resumable checkpoints",
            )
            sub.add_argument(
                "--run-dir", type=Path, help=f"run directory (default runs/{spec.NAME}-<time>)"
            )
        if name == "export":
            sub.add_argument(
                "--run-dir", type=Path, required=True, help="the finished training run"
            )
        if name in ("train", "finetune", "export"):
            sub.add_argument(
                "--export-dir",
                type=Path,
                default=Path("saved_models") / spec.NAME,
                help="recipe folder receiving a new integer version",
            )
        if name == "finetune":
            sub.add_argument(
                "--from",
                dest="source_export",
                type=Path,
                required=True,
                help="export (version or recipe folder) to continue from",
            )
        if name == "evaluate":
            sub.add_argument("--model", type=Path, required=True, help="export to evaluate")
            sub.add_argument(
                "--split",
                default="test",
                choices=("train", "validation", "test"),
                help="the split to evaluate",
            )
    spec.add_arguments(parsers)
    return parser, parsers


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parses known flags; for ``train`` and ``finetune``, leftover ``--field value``
    pairs become config overrides (other commands reject them)."""
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("train", "finetune"):
        parser.error(f"unrecognized arguments for {args.command}: {' '.join(extra)}")
    overrides = list(getattr(args, "set", []))
    index = 0
    while index < len(extra):
        item = extra[index]
        if not item.startswith("--"):
            parser.error(f"unexpected argument {item!r}")
        name, sep, value = item[2:].partition("=")
        if not sep:
            if index + 1 >= len(extra) or extra[index + 1].startswith("--"):
                parser.error(
                    f"{item} is not an option of {args.command}, and a config field needs a value"
                )
            value, index = extra[index + 1], index + 1
        overrides.append(f"{name}={value}")
        index += 1
    args.overrides = overrides
    if getattr(args, "run_dir", None) is None and args.command in ("train", "finetune"):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.run_dir = Path("runs") / f"{args.recipe}-{stamp}"
    return args


@contextlib.contextmanager
def training_session(args: argparse.Namespace) -> Iterator[TrainingSession]:
    """The training precision (Keras's global dtype policy, for the models built or
    loaded next), the strategy (created first, as multi-worker training requires),
    this process's run directory and export folder; the body runs in the strategy's
    scope. The previous global policy is restored on exit.

    A run directory that holds a checkpoint is resumed (see ``training.fit``); the
    checkpoint is removed when the body completes. The folders this call created for
    the run directory are removed again if the body fails before writing any file
    into them (bad input).

    Raises:
        NlpLstmError: if the run directory holds a finished run (never overwritten).
    """
    import keras

    from nlp_lstm.distribute import make_strategy, writable_paths
    from nlp_lstm.precision import set_precision
    from nlp_lstm.training import RunDirectory, TrainingSession

    finished = RunDirectory(args.run_dir, create=False)
    if (finished.path / "metrics.json").exists() and not finished.resuming:
        raise NlpLstmError(
            "this run directory holds a finished run; pass a new --run-dir "
            "(or delete this one to train it again)",
            path=finished.path,
        )
    before = keras.mixed_precision.global_policy()
    print(f"training precision: {set_precision(args.precision)}")
    try:
        strategy = make_strategy(args.strategy)
        with strategy.scope(), writable_paths(strategy, args.run_dir, args.export_dir) as paths:
            run_dir, export_dir = paths
            created = [p for p in (run_dir, *run_dir.parents) if not p.exists()]
            session = TrainingSession(
                strategy,
                RunDirectory(run_dir, restore_from=args.run_dir),
                export_dir,
                args.checkpoint_every,
            )
            try:
                yield session
            except BaseException:
                if created and not any(p.is_file() for p in created[-1].rglob("*")):
                    shutil.rmtree(created[-1], ignore_errors=True)
                raise
            # Complete (trained, evaluated, exported): running the command again starts over.
            session.run.remove_checkpoints()
    finally:
        keras.mixed_precision.set_global_policy(before)


@dataclasses.dataclass
class Result:
    """A finished run's metrics and the export written from it."""

    report: dict
    export: Path


def run_config(recipe: Recipe, config, data: RecipeData) -> dict:
    """The run directory's ``config.json``: what ``export`` rebuilds the run from."""
    return {
        "task": recipe.name,
        "config": dataclasses.asdict(config),
        "corpus": data.source,
        **data.metadata(),
    }


def train_and_export(
    recipe: Recipe,
    session: TrainingSession,
    config,
    data: RecipeData,
    asset: bytes,
    model=None,
    report: dict | None = None,
) -> Result:
    """The common tail of ``train`` and ``finetune``: fit and evaluate (the recipe's
    ``train``), then keep the run's metrics, model, asset and config, and export."""
    import keras

    keras.utils.set_random_seed(config.seed)
    run = session.run
    model, metrics = recipe.train(session, config, data, asset, model)
    metrics.update(report or {})
    run.write_json("metrics.json", metrics)
    model.save(run.keras_model)
    (run.path / recipe.asset).write_bytes(asset)
    run.write_json("config.json", run_config(recipe, config, data))
    return Result(metrics, export_run(recipe, run, session.export_dir, metrics))


def export_run(recipe: Recipe, run: RunDirectory, export_dir: Path, report: dict | None = None):
    """Exports a finished run as the next version under ``export_dir``: the recipe's
    serving SavedModel, its asset, the Keras model (for fine-tuning) and the metadata.

    Returns:
        The new version's directory.
    """
    from nlp_lstm import config as config_lib
    from nlp_lstm import export as export_lib

    saved, model, saved_report = run.load_finished(recipe.name)
    asset = run.read_bytes(recipe.asset)
    config = config_lib.from_saved(recipe.spec.CONFIG, saved["config"])

    def write(directory: Path):
        metadata = recipe.write_export(model, config, asset, saved, directory)
        (directory / "assets").mkdir(exist_ok=True)
        (directory / "assets" / recipe.asset).write_bytes(asset)
        export_lib.add_keras_model(directory, run.keras_model)
        export_lib.write_metadata(
            directory,
            recipe.name,
            config=saved["config"],
            corpus=saved["corpus"],
            metrics=report or saved_report,
            run_dir=str(run.path),
            **metadata,
        )

    return export_lib.write_version(export_dir, write)


def load_export(recipe: Recipe, path: Path) -> LoadedExport:
    """An export of the recipe, to evaluate or fine-tune."""
    from nlp_lstm import export as export_lib
    from nlp_lstm.recipes.base import LoadedExport

    version, metadata, model, assets = export_lib.load_trainable(path, recipe.name, (recipe.asset,))
    return LoadedExport(version, metadata, model, assets[recipe.asset])


def print_summary(recipe: Recipe, result: Result, run: RunDirectory, seconds: float, samples: str):
    report = result.report
    kept = ", ".join(("metrics.json", *recipe.run_files, "plots/", "logs/"))
    print(f"\n== {recipe.name} summary")
    for line in recipe.summary(report):
        print(f"  {line}")
    print(f"  run dir    {run.path}  ({kept})")
    print(f"  export     {result.export}")
    print(f"  weights    sha256 {report['weights_sha256']}")
    print(
        f"  speed      {report['tokens_per_second']:,.0f} training {recipe.unit}/s, "
        f"{report['parameters']:,} parameters"
    )
    print(f"  time       {seconds:.0f} s (training {report['training_seconds']:.0f} s)")
    if samples:
        print(f"\n{samples}")


def command_train(recipe: Recipe, args: argparse.Namespace) -> None:
    start = time.time()
    config = recipe.resolve_config(args)
    with training_session(args) as session:
        data = recipe.read_data(args, config)
        data = recipe.start_training(args, config, data, session.run)
        asset = session.run.reuse_or_write(
            recipe.asset,
            lambda: recipe.make_asset(args, config, data),
            recipe.describe_asset(config),
        )
        session.run.write_json("config.json", run_config(recipe, config, data))
        result = train_and_export(recipe, session, config, data, asset)
        samples = recipe.samples(result.export, data)
        print_summary(recipe, result, session.run, time.time() - start, samples)


def command_finetune(recipe: Recipe, args: argparse.Namespace) -> None:
    from nlp_lstm import config as config_lib

    start = time.time()
    with training_session(args) as session:
        export = load_export(recipe, args.source_export)
        config = config_lib.resolve_finetuning(
            recipe.spec.CONFIG, export.metadata["config"], recipe.spec.FINETUNE, args.overrides
        )
        data = recipe.read_data(args, config)
        model, data, before = recipe.start_finetuning(args, session, export, config, data)
        print(f"fine-tuning {export.version} on {data.source}")
        data = dataclasses.replace(data, source=f"{data.source}; fine-tuned from {export.version}")
        result = train_and_export(recipe, session, config, data, export.asset, model, before)
        samples = recipe.samples(result.export, data)
        print_summary(recipe, result, session.run, time.time() - start, samples)


def command_export(recipe: Recipe, args: argparse.Namespace) -> None:
    from nlp_lstm.training import RunDirectory

    run = RunDirectory(args.run_dir, create=False)
    print(f"exported {export_run(recipe, run, args.export_dir)}")


def command_evaluate(recipe: Recipe, args: argparse.Namespace) -> None:
    from nlp_lstm import config as config_lib

    export = load_export(recipe, args.model)
    config = config_lib.from_saved(recipe.spec.CONFIG, export.metadata["config"])
    data = recipe.read_data(args, config)
    scores = recipe.evaluate(export, config, data, args.split)
    report = {"export": str(export.version), "data": data.source, "split": args.split, **scores}
    print(json.dumps(report, indent=2))


RUNNERS = {
    "train": command_train,
    "evaluate": command_evaluate,
    "export": command_export,
    "finetune": command_finetune,
}


def main(name: str, argv: list[str] | None = None, script: bool = True) -> int:
    """Runs one command of the recipe ``name``.

    Args:
        name: one of ``nlp_lstm.recipes.NAMES``.
        argv: the command and its flags (default: ``sys.argv[1:]``).
        script: spelled as ``recipes/NAME.py`` in help and errors (else ``nlp-lstm``).

    Returns:
        The exit status: 0; 2 after a user error (printed as one line); 128 + the
        signal's number after SIGINT or SIGTERM (one line saying how to resume).

    Example:
        >>> main("sentiment", ["train", "--preset", "quick"])  # doctest: +SKIP
    """
    parser, _ = build_parser(recipes.config_module(name), script)
    args = parse(parser, argv)
    resume = (
        f"to resume, run the same command with --run-dir {args.run_dir}"
        if args.command in ("train", "finetune")
        else ""
    )

    def run_command() -> None:
        import_tensorflow(args.verbose)
        RUNNERS[args.command](recipes.load(name), args)

    return exit_status(run_command, resume)
