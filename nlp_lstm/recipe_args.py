"""The argument shape every recipe shares.

    recipes/<task>.py train    [--preset quick|full] [--data PATH | --dataset NAME]
                               [--run-dir DIR] [--export-dir DIR] [--strategy NAME]
                               [--checkpoint-every STEPS] [--precision NAME]
                               [--<config-field> VALUE ...]
    recipes/<task>.py evaluate --model EXPORT [--data PATH | --dataset NAME] [--split test]
    recipes/<task>.py export   --run-dir DIR [--export-dir DIR]
    recipes/<task>.py finetune --from EXPORT [--data PATH | --dataset NAME] [--run-dir DIR]
                               [--export-dir DIR] [--<config-field> VALUE ...]

``finetune`` starts from the export's saved config, not a preset.

Any config field can be overridden as ``--field-name value`` (or ``--set field=value``);
every command takes ``--verbose`` (TensorFlow's own log lines).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import keras

from nlp_lstm import __version__, import_tensorflow
from nlp_lstm.config import HelpFormatter, Range, bounded, describe_fields
from nlp_lstm.distribute import STRATEGIES, make_strategy, writable_paths
from nlp_lstm.errors import NlpLstmError, handling_signals, raise_interrupted, signal_of
from nlp_lstm.precision import PRECISIONS, set_precision
from nlp_lstm.training import CHECKPOINT_EVERY, RunDirectory, TrainingSession


def examples(task: str, script: str, rows: bool) -> dict[str, str]:
    """One example command line per sub-command, for its ``--help``."""
    data, run = ("my.tsv" if rows else "my.txt"), f"python recipes/{script}"
    return {
        "train": f"{run} train --data {data} --epochs 3 --run-dir runs/mine",
        "evaluate": f"{run} evaluate --model saved_models/{task} --split validation",
        "export": f"{run} export --run-dir runs/mine",
        "finetune": f"{run} finetune --from saved_models/{task} --data {data}",
    }


def build_parser(
    task: str,
    description: str,
    script: str | None = None,
    rows: bool = True,
    config_type: type | None = None,
    ranges: dict[str, Range] | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The shared sub-commands.

    Args:
        task: the export task; names the default run and export folders.
        description: the recipe's one-line description.
        script: the recipe's file name in ``recipes/`` (default ``<task>.py``).
        rows: whether the recipe reads rows (TSV, CSV, JSONL), which user files split
            at random and ``--skip-bad-rows`` can skip; plain text splits by position.
        config_type: the recipe's config dataclass, whose fields ``train --help`` lists
            with their defaults and ``ranges``.
        ranges: the allowed range of config fields (see ``config.check_ranges``).

    Returns:
        ``(parser, sub-command parsers by name)``, for recipes to add their own flags.
    """
    script = script or f"{task}.py"
    parser = argparse.ArgumentParser(
        prog=f"recipes/{script}",
        description=description,
        formatter_class=HelpFormatter,
        epilog="Any config field can be set as --field-name VALUE "
        "on train and finetune; see train --help.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(task=task)
    commands = parser.add_subparsers(dest="command", required=True)
    subparsers = {}
    fields = (
        ""
        if config_type is None
        else "\n\nconfig fields (defaults of the quick preset; "
        "set as --field-name VALUE):\n" + describe_fields(config_type, ranges)
    )
    for name, help_text in (
        ("train", "train, evaluate on the test split, export"),
        ("evaluate", "evaluate an export on a split"),
        ("export", "export a finished run's best weights"),
        ("finetune", "continue training an export on new data, export again"),
    ):
        epilog = f"example:\n  {examples(task, script, rows)[name]}" + (
            fields if name == "train" else ""
        )
        sub = subparsers[name] = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=HelpFormatter,
        )
        sub.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
        if name in ("train", "finetune", "evaluate"):
            source = sub.add_mutually_exclusive_group()
            source.add_argument(
                "--data",
                help="a user file, split 80/10/10 "
                + ("at random with a fixed seed" if rows else "by position"),
            )
            source.add_argument("--dataset", help="a bundled corpus name or tfds:NAME")
            if rows:
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
        if name == "export":
            sub.add_argument(
                "--run-dir", type=Path, required=True, help="the finished training run"
            )
        if name in ("train", "finetune"):
            sub.add_argument(
                "--run-dir", type=Path, help="run directory (default runs/<task>-<time>)"
            )
        if name in ("train", "finetune", "export"):
            sub.add_argument(
                "--export-dir",
                type=Path,
                default=Path("saved_models") / task,
                help="task folder receiving a new integer version",
            )
        if name == "finetune":
            sub.add_argument(
                "--from",
                dest="source_export",
                type=Path,
                required=True,
                help="export (version or task folder) to continue from",
            )
        if name == "evaluate":
            sub.add_argument("--model", type=Path, required=True, help="export to evaluate")
            sub.add_argument(
                "--split",
                default="test",
                choices=("train", "validation", "test"),
                help="the split to evaluate",
            )
    return parser, subparsers


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
        args.run_dir = Path("runs") / f"{args.task}-{stamp}"
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


def run(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    commands: dict[str, Callable[[argparse.Namespace], None]],
) -> int:
    """Parses ``argv`` and runs its sub-command.

    Returns:
        The exit status: 0; 2 after a user error (printed as one line); 128 + the
        signal's number after SIGINT or SIGTERM (one line saying how to resume).
    """
    args = parse(parser, argv)
    import_tensorflow(args.verbose)
    try:
        with handling_signals(raise_interrupted):
            commands[args.command](args)
    except NlpLstmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        stopped = signal_of(stop)
        resume = (
            f"; to resume, run the same command with --run-dir {args.run_dir}"
            if args.command in ("train", "finetune")
            else ""
        )
        print(f"stopped by {stopped.name}{resume}", file=sys.stderr)
        return 128 + stopped
    return 0
