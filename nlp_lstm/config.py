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

import argparse
import dataclasses
import json
import math
import typing

from nlp_lstm.errors import NlpLstmError


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a number may take: finite, from ``low`` (inclusive unless
    ``low_open``) to ``high`` (exclusive unless ``high_closed``); ``None``: unbounded.

    Example:
        >>> Range(0, 1).problem(2.0)
        'must be at least 0 and below 1'
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_closed: bool = False

    def __str__(self) -> str:
        low = f"{'greater than' if self.low_open else 'at least'} {self.low}"
        if self.high is None:
            return low
        if self.low is not None and not self.low_open and self.high_closed:
            return f"from {self.low} to {self.high}"
        high = f"{'at most' if self.high_closed else 'below'} {self.high}"
        return high if self.low is None else f"{low} and {high}"

    def problem(self, value) -> str | None:
        """What is wrong with ``value`` (``None`` if it is in range)."""
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number {self}"
        too_low = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        too_high = self.high is not None and (
            value > self.high if self.high_closed else value >= self.high
        )
        return f"must be {self}" if too_low or too_high else None


POSITIVE = Range(1)  # sizes, counts, epochs
NON_NEGATIVE = Range(0)
RATE = Range(0, 1)  # dropout, smoothing: [0, 1)
SCALE = Range(0, low_open=True)  # learning rate, clipnorm: > 0
SEED = Range(0, 2**32 - 1, high_closed=True)  # what NumPy's and Keras's seeding accept
CELLS = ("lstm", "gru", "peephole")  # the recurrent cell variants (``nlp_lstm.layers.cells``)
# How a run trains, chosen on the command line (``nlp_lstm.distribute``, ``nlp_lstm.precision``,
# ``nlp_lstm.training``):
STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
CHECKPOINT_EVERY = 100  # steps between mid-epoch checkpoints


def check_cell(cell: str) -> str:
    """Returns ``cell`` if it is a known variant (``CELLS``).

    Raises:
        NlpLstmError: naming the variants.
    """
    if cell not in CELLS:
        raise NlpLstmError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    return cell


def check_ranges(config, ranges: dict[str, Range]) -> None:
    """Checks the named fields of a config dataclass (call it from ``__post_init__``, so
    that a bad value stops the run before any work).

    Raises:
        NlpLstmError: naming the first field out of range, its value and the range.
    """
    for name, allowed in ranges.items():
        value = getattr(config, name)
        problem = allowed.problem(value)
        if problem:
            raise NlpLstmError(
                f"config field {name!r} (--{name.replace('_', '-')}) is {value!r}; it {problem}"
            )


def bounded(kind: type, low: float, high: float | None = None):
    """An argparse type: ``kind`` within ``[low, high]`` (finite), else a usage error."""
    allowed = Range(low, high, high_closed=True)

    def parse(text: str):
        problem = allowed.problem(kind(text))
        if problem:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {problem}")
        return kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the layout of descriptions and examples, and shows each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = (
            action.option_strings
            and action.nargs != 0
            and "default" not in text
            and not (
                action.default is None
                or action.default is argparse.SUPPRESS
                or isinstance(action.default, list)
            )
        )
        if shown:
            text += " (default: %(default)s)"
        return text


def describe_fields(config_type, ranges: dict[str, Range] | None = None) -> str:
    """One line per field of a config dataclass, as ``train --help`` lists them:
    the flag, the default, the allowed range and the field's ``help`` metadata if any."""
    ranges = ranges or {}
    lines = []
    for field in dataclasses.fields(config_type):
        default = field.default if field.default is not dataclasses.MISSING else None
        allowed = f"  ({ranges[field.name]})" if field.name in ranges else ""
        note = f"; {field.metadata['help']}" if "help" in field.metadata else ""
        lines.append(f"  --{field.name.replace('_', '-'):<24} {default!r}{allowed}{note}")
    return "\n".join(lines)


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
        raise NlpLstmError(
            f"config field {field.name!r} expects {kind.__name__}, got {raw!r}"
        ) from None
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
    for name, raw in map(parse_override, overrides):
        if name not in fields:
            raise NlpLstmError(f"unknown config field {name!r}; known fields: {', '.join(fields)}")
        changes[name] = _coerce(fields[name], hints, raw)
    return dataclasses.replace(config, **changes)


def parse_override(item: str) -> tuple[str, str]:
    """``'name=value'`` as ``(field name, value)``, ``-`` in the name read as ``_``.

    Raises:
        NlpLstmError: without ``=``.
    """
    name, sep, raw = item.partition("=")
    if not sep:
        raise NlpLstmError(f"override {item!r} is not of the form name=value")
    return name.strip().replace("-", "_"), raw.strip()


def resolve(config_type, presets: dict[str, dict], preset: str, overrides: list[str]):
    """A recipe's config: the preset's values, then ``name=value`` overrides."""
    return apply_overrides(from_dict(config_type, presets[preset]), overrides)


def resolve_finetuning(config_type, saved: dict, finetuning: dict, overrides: list[str]):
    """A fine-tuning run's config: the export's ``saved`` config, then the recipe's
    ``finetuning`` values (e.g. a lower learning rate), then ``name=value`` overrides."""
    return apply_overrides(
        dataclasses.replace(from_saved(config_type, saved), **finetuning), overrides
    )


def from_dict(config_type, values: dict):
    """Builds ``config_type`` from a dict of field values, rejecting unknown fields."""
    known = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NlpLstmError(
            f"unknown config field(s) {', '.join(unknown)} for {config_type.__name__}"
        )
    return config_type(**values)


def from_saved(config_type, saved: dict):
    """Builds ``config_type`` from a config saved with a run or an export.

    A field the saved config lacks takes its value in ``config_type.SAVED_BEFORE`` when
    it has one there (what configs saved before the field existed meant), else its
    default.
    """
    return from_dict(config_type, {**getattr(config_type, "SAVED_BEFORE", {}), **saved})


def to_json(config) -> str:
    return json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True)
