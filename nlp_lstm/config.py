"""Recipe configuration: dataclasses overridable from the command line.

Example:
    >>> @dataclasses.dataclass
    ... class Config:
    ...     epochs: int = 3
    ...     dropout: float = 0.2
    >>> apply_overrides(Config(), ["epochs=5"]).epochs
    5
"""

from __future__ import annotations

import dataclasses
import json
import typing

from nlp_lstm.errors import NlpLstmError


def _coerce(field: dataclasses.Field, hints: dict, raw: str):
    kind = hints[field.name]
    optional = type(None) in typing.get_args(kind)
    if optional:
        if raw.lower() in ("none", "null", ""):
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if kind in (int, float, str):
            return kind(raw)
        if origin in (list, tuple):
            (item,) = set(typing.get_args(kind)) - {Ellipsis}
            values = [item(v) for v in raw.split(",") if v.strip()]
            return tuple(values) if origin is tuple else values
    except ValueError:
        raise NlpLstmError(f"config field {field.name!r} expects {kind.__name__}, "
                           f"got {raw!r}") from None
    raise NlpLstmError(f"config field {field.name!r} cannot be set from the command line")


def apply_overrides(config, overrides: list[str]):
    """Returns a copy of ``config`` with ``name=value`` overrides applied.

    Raises:
        NlpLstmError: for a malformed override, an unknown field (the message lists
            the known ones) or a value of the wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for item in overrides:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise NlpLstmError(f"override {item!r} is not of the form name=value")
        if name not in fields:
            raise NlpLstmError(f"unknown config field {name!r}; known fields: {', '.join(fields)}")
        changes[name] = _coerce(fields[name], hints, raw.strip())
    return dataclasses.replace(config, **changes)


def resolve(config_type, presets: dict[str, dict], preset: str, overrides: list[str]):
    """A recipe's config: the preset's values, then ``name=value`` overrides."""
    return apply_overrides(from_dict(config_type, presets[preset]), overrides)


def resolve_finetuning(config_type, saved: dict, finetuning: dict, overrides: list[str]):
    """A fine-tuning run's config: the export's ``saved`` config, then the recipe's
    ``finetuning`` values (e.g. a lower learning rate), then ``name=value`` overrides."""
    return apply_overrides(dataclasses.replace(from_dict(config_type, saved), **finetuning),
                           overrides)


def from_dict(config_type, values: dict):
    """Builds ``config_type`` from a saved dict, rejecting unknown fields."""
    known = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NlpLstmError(f"unknown config field(s) {', '.join(unknown)} for {config_type.__name__}")
    return config_type(**values)


def to_json(config) -> str:
    return json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True)
