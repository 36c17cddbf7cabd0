"""Every command fails cleanly: one test per row of docs/troubleshooting.md.

Config ranges, signals during training and batch inference, quiet logs, small user data,
finished run directories, and the small things (``--version``, ``--help``, stdin, jsonl).
The exports here are stand-ins (``tf.Module`` with the real signatures' names and
outputs), so no test but the kill test trains a model.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import train

from nlp_lstm import cli, export, runner
from nlp_lstm.callbacks import read_position
from nlp_lstm.errors import Interrupted, deferred_signals
from nlp_lstm.recipes.generation import recipe as generation
from nlp_lstm.training import RunDirectory, fit, logged_history

ROOT = Path(__file__).resolve().parents[1]
NLP_LSTM = [sys.executable, "-c", "import sys; from nlp_lstm.cli import main; sys.exit(main())"]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "recipe, flags, message",
    [
        ("sentiment", "--epochs 0", "config field 'epochs' (--epochs) is 0; it must be at least 1"),
        (
            "sentiment",
            "--dropout 2",
            "'dropout' (--dropout) is 2.0; it must be at least 0 and below 1",
        ),
        ("sentiment", "--batch-size 0", "'batch_size' (--batch-size) is 0; it must be at least 1"),
        ("sentiment", "--lstm-units 0", "'lstm_units' (--lstm-units) is 0; it must be at least 1"),
        (
            "sentiment",
            "--sequence-length 0",
            "'sequence_length' (--sequence-length) is 0; it must be at least 2",
        ),
        (
            "sentiment",
            "--learning-rate -1",
            "'learning_rate' (--learning-rate) is -1.0; it must be greater than 0",
        ),
        ("sentiment", "--learning-rate nan", "is nan; it must be a finite number greater than 0"),
        ("sentiment", "--seed -3", "'seed' (--seed) is -3; it must be from 0 to 4294967295"),
        ("generation", "--steps-per-epoch 0", "'steps_per_epoch' (--steps-per-epoch) is 0"),
        (
            "generation",
            "--dropout 1",
            "'dropout' (--dropout) is 1.0; it must be at least 0 and below 1",
        ),
    ],
)
def test_a_config_value_out_of_range_stops_before_any_work(
    recipe, flags, message, tmp_path, capsys
):
    run_dir = tmp_path / "runs" / "run"
    assert runner.main(recipe, ["train", *flags.split(), "--run-dir", str(run_dir)]) == 2
    out, err = capsys.readouterr()
    assert message in one_error_line(err)
    assert out == "" and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            "generate --model m --seed 99999999999999999999999",
            "argument --seed: 99999999999999999999999 is out of range: must be from",
        ),
        (
            "generate --model m --temperature inf",
            "argument --temperature: inf is out of range: must be a finite number at least 0",
        ),
        ("generate --model m --temperature nan", "argument --temperature: nan is out of range"),
        ("generate --model m --top-p nan", "argument --top-p: nan is out of range"),
    ],
)
def test_out_of_range_seeds_and_non_finite_temperatures_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv.split())
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_checkpoint_every_below_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        train("sentiment", "--checkpoint-every", "0")
    assert stopped.value.code == 2
    assert "argument --checkpoint-every: 0 is out of range: must be at least 1" in (
        capsys.readouterr().err
    )


def test_version_and_help_with_defaults_examples_and_config_fields(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == "nlp-lstm 0.1.0"
    with pytest.raises(SystemExit):
        runner.main("sentiment", ["--version"])
    assert capsys.readouterr().out.strip() == "recipes/sentiment.py 0.1.0"
    with pytest.raises(SystemExit):
        cli.main(["translate", "--help"])
    text = capsys.readouterr().out
    assert "(default: 64)" in text and "example:\n  nlp-lstm translate --model" in text
    with pytest.raises(SystemExit):
        train("sentiment", "--help")
    text = capsys.readouterr().out
    assert "example:\n  nlp-lstm train sentiment --data my.tsv" in text
    assert "(default: quick)" in text and "(default: 100)" in text
    assert "  --vocabulary-size          4000  (at least 1)" in text
    assert "  --dropout                  0.3  (at least 0 and below 1)" in text


@pytest.mark.parametrize(
    "call",
    [
        "from nlp_lstm.cli import main; main(['translate', '--help'])",
        "from nlp_lstm.cli import main; main(['train', 'sentiment', '--help'])",
        "from nlp_lstm.runner import main; main('translation', ['train', '--help'])",  # recipes/
    ],
)
def test_help_answers_without_importing_tensorflow(call):
    probe = (
        "import sys, time; start = time.time()\n"
        f"try:\n    {call}\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules, time.time() - start, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    imported, seconds = result.stderr.split()
    # Importing TensorFlow alone takes several seconds; 3 leaves room for a busy machine.
    assert imported == "False" and float(seconds) < 3.0


def test_no_tensorflow_log_lines_unless_verbose(tmp_path):
    """TF's C++ logs (I0000 oneDNN, cudart, E0000 cuInit) ignore TF_CPP_MIN_LOG_LEVEL=2."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "recipes" / "sentiment.py"),
            "train",
            "--epochs",
            "0",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2
    assert one_error_line(result.stderr) == (
        "error: config field 'epochs' (--epochs) is 0; it must be at least 1"
    )
    shown = subprocess.run(
        [*NLP_LSTM, "translate", "--verbose", "--model", str(tmp_path), "Hi."],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert shown.returncode == 2 and len(shown.stderr.splitlines()) > 1  # TF's own lines


# Stand-in exports: the real signatures' names, inputs and outputs, no model.


def fake_export(root: Path, task: str, signatures: dict, **metadata) -> Path:
    def write(directory):
        tf.saved_model.save(tf.Module(), str(directory), signatures=signatures)
        export.write_metadata(directory, task, config={}, **metadata)

    return export.write_version(root / task, write)


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def classify(text):
    positive = tf.strings.regex_full_match(text, ".*good.*")
    return {
        "label": tf.where(positive, "pos", "neg"),
        "probabilities": tf.stack(
            [1.0 - tf.cast(positive, tf.float32), tf.cast(positive, tf.float32)], axis=1
        ),
    }


@tf.function(
    input_signature=[
        tf.TensorSpec([None], tf.string),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32),
        tf.TensorSpec([], tf.int64),
    ]
)
def continue_prompt(prompt, max_new_chars, temperature, top_k, top_p, seed):
    return {"text": prompt + tf.strings.as_string(seed)}


@tf.function(
    input_signature=[
        tf.TensorSpec([None], tf.string),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32),
    ]
)
def upper_case(source, beam_size, max_length):
    return {
        "translation": tf.strings.upper(source),
        "score": tf.zeros_like(tf.strings.length(source), tf.float32),
    }


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    return {
        "sentiment": fake_export(
            root, "sentiment", {"serving_default": classify}, labels=["neg", "pos"]
        ),
        "generation": fake_export(root, "generation", {"serving_default": continue_prompt}),
        "translation": fake_export(
            root, "translation", {"translate": upper_case}, decoding={"beam_size": 1}
        ),
    }


def test_predict_reads_standard_input_and_writes_each_batch_to_output(
    exports, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a good film\nbad\nfine\n")))
    out = tmp_path / "out" / "labels.tsv"
    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(exports["sentiment"]),
                "--input",
                "-",
                "--output",
                str(out),
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    assert out.read_text().splitlines() == [
        "text\tlabel\tp_neg\tp_pos",
        "a good film\tpos\t0.0\t1.0",
        "bad\tneg\t1.0\t0.0",
        "fine\tneg\t1.0\t0.0",
    ]
    assert capsys.readouterr().err == ""  # no progress line when stderr is not a terminal


def test_stdin_that_is_not_utf8_names_stdin(exports, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\ncaf\xe9\n")))
    assert cli.main(["predict", "--model", str(exports["sentiment"]), "--input", "-"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("error: <stdin>:2: not valid UTF-8")


def test_generate_writes_json_lines(exports, capsys):
    assert (
        cli.main(
            [
                "generate",
                "--model",
                str(exports["generation"]),
                "--prompt",
                "To be",
                "--prompt",
                "",
                "--seed",
                "7",
                "--format",
                "jsonl",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"prompt": "To be", "text": "To be7"}, {"prompt": "", "text": "7"}]


def test_ctrl_c_during_translate_keeps_the_rows_already_written(exports, tmp_path):
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(f"sentence {i}\n" for i in range(20_000)))
    out = tmp_path / "translations.tsv"
    process = subprocess.Popen(
        [
            *NLP_LSTM,
            "translate",
            "--model",
            str(exports["translation"]),
            "--input",
            str(sources),
            "--output",
            str(out),
            "--batch-size",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not out.exists() or len(out.read_text().splitlines()) < 50:
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = out.read_text().splitlines()
    assert 50 < len(lines) < 20_001 and lines[0] == "source\ttranslation\tscore"
    assert lines[1:] == [f"sentence {i}\tSENTENCE {i}\t0.0" for i in range(len(lines) - 1)]
    assert one_error_line(err) == (
        f"stopped by SIGINT; the first {len(lines) - 1:,} of 20,000 rows are in {out}"
    )


def test_a_first_signal_waits_for_a_safe_point_and_a_second_stops_at_once():
    handlers = [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]
    with deferred_signals() as received:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs at the next bytecode boundary
        assert received == [signal.SIGTERM]
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert stopped.value.signum == signal.SIGINT
    assert [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)] == handlers


def test_a_signal_during_fit_checkpoints_at_the_next_step_and_raises_interrupted(tmp_path):
    """SIGINT at step 8 (checkpoints every 5): saved at step 8, not lost back to step 5."""
    x = np.random.default_rng(0).normal(size=(48, 3)).astype("float32")
    make_batches = lambda batch_size=8: tf.data.Dataset.from_tensor_slices(  # noqa: E731
        (x, x.sum(axis=1, keepdims=True))
    ).batch(batch_size)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    class SignalAt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 7:
                os.kill(os.getpid(), signal.SIGINT)

    original = model.fit
    model.fit = lambda *a, callbacks=(), **k: original(*a, callbacks=[SignalAt(), *callbacks], **k)
    run = RunDirectory(tmp_path / "run")
    # Python's own handler, or SIG_IGN where the test runner was started in the background.
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as stopped:
        fit(
            model,
            make_batches,
            make_batches(),
            run,
            batch_size=8,
            epochs=3,
            steps_per_epoch=6,
            checkpoint_every=5,
        )
    assert stopped.value.signum == signal.SIGINT
    position = read_position(run.path / "backup")
    assert (position.epoch, position.step) == (1, 2)
    assert signal.getsignal(signal.SIGINT) is handler_before  # restored


def test_a_run_that_starts_over_drops_the_tensorboard_logs_of_the_attempt_before(tmp_path):
    run = RunDirectory(tmp_path / "run")
    (run.path / "logs" / "train").mkdir(parents=True)
    (run.path / "logs" / "train" / "events.out.tfevents.old").write_text("old run")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((8, 3), "float32"), np.ones((8, 1), "float32"))
    ).batch(8)
    fit(model, lambda batch_size: data, data, run, batch_size=8, epochs=1, steps_per_epoch=1)
    assert not list(run.path.glob("logs/**/*.old"))


def test_generation_samples_prompt_with_the_users_own_text():
    text = "Dear diary,\n\ntoday it rained.\nI stayed in.\nThe end.\n"
    assert generation.sample_prompts(text) == ["", "Dear diary,", "I stayed in."]


def test_kill_during_training_resumes_to_the_length_of_an_uninterrupted_run(tmp_path, monkeypatch):
    """SIGINT inside epoch 1, SIGTERM inside the resumed attempt, then the same command
    finishes: 2 epochs of 60 steps, as an uninterrupted run; rerunning it is refused."""
    (tmp_path / "diary.txt").write_text(
        "".join(f"Day {i}: the cat sat on mat number {i % 7}, then slept.\n" for i in range(400))
    )
    flags = [
        "--data",
        "diary.txt",
        "--run-dir",
        "run",
        "--export-dir",
        "exports",
        "--checkpoint-every",
        "5",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "60",
        "--batch-size",
        "8",
        "--sequence-length",
        "32",
        "--lstm-units",
        "16",
        "--embedding-dim",
        "8",
        "--patience",
        "9",
    ]
    command = [sys.executable, str(ROOT / "recipes" / "generation.py"), "train", *flags]
    backup = tmp_path / "run" / "backup"

    def stop_after_step(step: int, signum: int) -> tuple[str, str]:
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.time() + 120
        while (position := read_position(backup)) is None or position.step < step:
            assert process.poll() is None and time.time() < deadline, "no checkpoint"
            time.sleep(0.05)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 128 + signum, err
        return out, one_error_line(err)

    _, err = stop_after_step(5, signal.SIGINT)
    assert err == "stopped by SIGINT; to resume, run the same command with --run-dir run"
    stopped_at = read_position(backup)
    out, err = stop_after_step(stopped_at.step + 5, signal.SIGTERM)
    assert f"resuming from {stopped_at.describe}" in out and err.startswith("stopped by SIGTERM")
    last = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert last.returncode == 0 and last.stderr == "", last.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["training_steps"] == 120
    assert len(logged_history(tmp_path / "run" / "history.csv")["loss"]) == 2
    assert "-- sample (prompt 'Day " in last.stdout and "ROMEO" not in last.stdout

    monkeypatch.chdir(tmp_path)  # the same command once more, in this process: refused
    assert train("generation", *flags) == 2
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["1"]


def test_small_user_data_trains_on_the_first_try(tmp_path, capsys):
    """30 rows: the quick preset's 4,000 pieces are capped to what 24 sentences allow."""
    rows = [
        f"review number {i} is {'good' if i % 2 else 'bad'}\t{'pos' if i % 2 else 'neg'}"
        for i in range(30)
    ]
    (tmp_path / "mine.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    assert (
        train(
            "sentiment",
            "--data",
            str(tmp_path / "mine.tsv"),
            "--run-dir",
            str(tmp_path / "run"),
            "--export-dir",
            str(tmp_path / "exports"),
            "--epochs",
            "1",
            "--lstm-units",
            "4",
            "--embedding-dim",
            "4",
        )
        == 0
    )
    err = capsys.readouterr().err
    assert (
        "note: vocabulary size 4000 is more than this corpus of 24 sentences allows; using " in err
    )
    assert (tmp_path / "exports" / "1").is_dir()
