import pytest

from nlp_lstm import config, recipe_args
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tasks import generation, translation


def parser_of(task: str, **kwargs):
    return recipe_args.build_parser(task, "test", **kwargs)[0]


def test_config_fields_become_overrides_on_train_and_finetune():
    args = recipe_args.parse(
        parser_of("translation"), ["train", "--epochs", "3", "--dropout=0.5", "--set", "seed=2"]
    )
    assert args.overrides == ["seed=2", "epochs=3", "dropout=0.5"]
    assert str(args.run_dir).startswith("runs/translation-")


def test_finetuning_takes_no_preset():
    assert (
        recipe_args.parse(parser_of("translation"), ["train", "--preset", "full"]).preset == "full"
    )
    args = recipe_args.parse(
        parser_of("translation"), ["finetune", "--from", "export", "--preset", "full"]
    )
    with pytest.raises(NlpLstmError, match="unknown config field 'preset'"):
        config.resolve_finetuning(
            translation.TranslationConfig, {}, translation.FINETUNE, args.overrides
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
        recipe_args.parse(parser_of("sentiment"), argv)
    assert message in capsys.readouterr().err


def test_the_generation_recipe_names_its_script_and_reads_plain_text(capsys):
    with pytest.raises(SystemExit):
        generation.main(["train", "--skip-bad-rows"])
    err = capsys.readouterr().err
    assert err.startswith("usage: recipes/char_generation.py")
    assert "--skip-bad-rows is not an option of train, and a config field needs a value" in err
    args = recipe_args.parse(parser_of(generation.TASK, script="char_generation.py"), ["train"])
    assert str(args.run_dir).startswith("runs/generation-")
