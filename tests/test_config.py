import dataclasses

import pytest

from nlp_lstm import config
from nlp_lstm.errors import NlpLstmError


@dataclasses.dataclass
class Example:
    units: int = 8
    rate: float = 0.1
    name: str = "x"
    flag: bool = False


def test_overrides_are_typed():
    result = config.apply_overrides(Example(), ["units=16", "rate=0.5", "name=y", "flag=true"])
    assert result == Example(16, 0.5, "y", True)


@pytest.mark.parametrize(
    "override, message",
    [
        ("unitz=3", "unknown config field 'unitz'; known fields: units, rate, name, flag"),
        ("units=big", "config field 'units' expects int, got 'big'"),
        ("flag=maybe", "config field 'flag' expects bool"),
        ("units", "is not of the form name=value"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(NlpLstmError, match=message):
        config.apply_overrides(Example(), [override])


def test_saved_configs_with_unknown_fields_are_rejected():
    with pytest.raises(NlpLstmError, match="unknown config field"):
        config.from_dict(Example, {"units": 3, "extra": 1})


def test_finetuning_keeps_the_exports_config_under_its_own_values_and_overrides():
    saved = {"units": 64, "rate": 0.3, "name": "export"}
    result = config.resolve_finetuning(Example, saved, {"rate": 0.01}, ["name=mine"])
    assert result == Example(units=64, rate=0.01, name="mine", flag=False)
