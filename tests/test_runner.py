"""The one runner: argument parsing shared by every recipe, and ``nlp-lstm COMMAND RECIPE``."""

from pathlib import Path

import pytest

from nlp_lstm import cli, config, recipes, runner
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.recipes.translation import config as translation_config


def parser_of(recipe: str, script: bool = True):
    return runner.build_parser(recipes.config_module(recipe), script)[0]


def test_config_fields_become_overrides_on_train_and_finetune():
    args = runner.parse(
        parser_of("translation"), ["train", "--epochs", "3", "--dropout=0.5", "--set", "seed=2"]
    )
    assert args.overrides == ["seed=2", "epochs=3", "dropout=0.5"]
    assert str(args.run_dir).startswith("runs/translation-")


def test_finetuning_takes_no_preset():
    assert runner.parse(parser_of("translation"), ["train", "--preset", "full"]).preset == "full"
    args = runner.parse(
        parser_of("translation"), ["finetune", "--from", "export", "--preset", "full"]
    )
    with pytest.raises(NlpLstmError, match="unknown config field 'preset'"):
        config.resolve_finetuning(
            translation_config.TranslationConfig, {}, translation_config.FINETUNE, args.overrides
        )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["evaluate", "--model", "m", "--splt", "validation"],
            "unrecognized arguments for evaluate: --splt validation",
        ),
        (
            ["export", "--run-dir", "r", "--epochs", "3"],
            "unrecognized arguments for export: --epochs 3",
        ),
        (["export"], "the following arguments are required: --run-dir"),
    ],
)
def test_commands_without_a_config_reject_what_they_would_ignore(argv, message, capsys):
    with pytest.raises(SystemExit):
        runner.parse(parser_of("sentiment"), argv)
    assert message in capsys.readouterr().err


def test_the_generation_recipe_reads_plain_text(capsys):
    with pytest.raises(SystemExit):
        runner.main("generation", ["train", "--skip-bad-rows"])
    err = capsys.readouterr().err
    assert err.startswith("usage: recipes/generation.py")
    assert "--skip-bad-rows is not an option of train, and a config field needs a value" in err
    args = runner.parse(parser_of("generation"), ["train"])
    assert str(args.run_dir).startswith("runs/generation-")


@pytest.mark.parametrize("recipe", recipes.NAMES)
def test_one_name_per_recipe_across_layers(recipe):
    """The recipe's script, config module, model module, export folder and run folder
    share its name."""
    spec = recipes.config_module(recipe)
    assert recipe == spec.NAME
    root = Path(runner.__file__).parents[1]
    assert (root / "recipes" / f"{recipe}.py").is_file()
    assert (root / "nlp_lstm" / "models" / f"{recipe}.py").is_file()
    assert recipes.load(recipe).name == recipe
    args = runner.parse(parser_of(recipe), ["train"])
    assert str(args.export_dir) == f"saved_models/{recipe}"


def test_nlp_lstm_spells_recipe_commands_with_the_recipe_after_the_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "translation", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: nlp-lstm train translation")
    assert "--source SOURCE" in out and "example:\n  nlp-lstm train translation --data" in out
    assert "(at least 0); 0: one pass over the training pairs" in out  # a field's own help
    with pytest.raises(SystemExit):
        cli.main(["train", "poetry"])
    assert "invalid choice: 'poetry'" in capsys.readouterr().err


def test_a_config_error_through_nlp_lstm_is_one_line_and_exit_2(tmp_path, capsys):
    code = cli.main(["train", "sentiment", "--epochs", "0", "--run-dir", str(tmp_path / "r")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: config field 'epochs' (--epochs) is 0; it must be at least 1"
    ]
    assert not (tmp_path / "r").exists()
