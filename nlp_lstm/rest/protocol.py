"""TF Serving's REST predict format: parsing and checking requests, shaping responses.

Pure Python + numpy (no TensorFlow): every check that turns a bad request into a 4xx
happens here, before anything reaches a model.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math

import numpy as np

from nlp_lstm.rest.models import SignatureInfo

INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
FLOAT_TYPES = {"float16", "bfloat16", "float32", "float64"}


class RequestError(Exception):
    """A request the server refuses: answered ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclasses.dataclass
class Limits:
    """What one request may ask for (the server's ``--max-*`` flags)."""

    max_body_bytes: int = 4 * 2**20
    max_string_bytes: int = 20_000
    max_rows: int = 1_000
    max_new_chars: int = 2_000
    max_beam_size: int = 16
    max_length: int = 1_000

    def argument_ranges(self) -> dict[str, tuple[float, float]]:
        """Inclusive ranges of the exports' scalar arguments, by input name."""
        return {
            "max_new_chars": (0, self.max_new_chars),
            "temperature": (0.0, 100.0),
            "top_k": (0, 2**31 - 1),
            "top_p": (0.0, 1.0),
            "beam_size": (0, self.max_beam_size),
            "max_length": (0, self.max_length),
        }


@dataclasses.dataclass
class Group:
    """Rows that share their scalar arguments: one submission to the batcher."""

    scalars: tuple  # ((name, value), ...) in the signature's order
    columns: dict[str, list]  # batched input -> values
    rows: list[int]  # their positions among the request's instances


@dataclasses.dataclass
class PredictRequest:
    signature: SignatureInfo
    row_format: bool
    groups: list[Group]
    size: int  # rows in all


def parse_body(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(
            f"the request body is not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        request = json.loads(text)
    except RecursionError:
        raise RequestError("malformed JSON: nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise RequestError(f"malformed JSON: {error}") from None
    if not isinstance(request, dict):
        raise RequestError("the request body must be a JSON object")
    return request


def parse_predict(
    request: dict, signatures: dict[str, SignatureInfo], limits: Limits
) -> PredictRequest:
    """Checks a predict request against the signature it names."""
    name = request.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise RequestError("'signature_name' must be a string")
    name = name or "serving_default"  # "" means the default, as in TF Serving
    if name not in signatures:
        raise RequestError(
            f"unknown signature '{name}'; this model has {', '.join(sorted(signatures))}"
        )
    signature = signatures[name]
    if ("instances" in request) == ("inputs" in request):
        raise RequestError(
            "the request needs either 'instances' (row format) or 'inputs' "
            "(columnar format), not both"
            if "inputs" in request
            else "the request needs 'instances' (row format) or 'inputs' (columnar format)"
        )
    if not signature.batched_inputs:
        raise RequestError(f"signature '{name}' has no batched input; it cannot be served")
    if "instances" in request:
        return _parse_rows(request["instances"], signature, limits)
    return _parse_columns(request["inputs"], signature, limits)


def _parse_rows(instances, signature: SignatureInfo, limits: Limits) -> PredictRequest:
    if not isinstance(instances, list):
        raise RequestError("'instances' must be a list")
    _check_rows(len(instances), limits)
    single = len(signature.inputs) == 1
    groups: dict[tuple, Group] = {}
    for index, instance in enumerate(instances):
        if isinstance(instance, dict) and not _is_b64(instance):
            values = instance
            unknown = sorted(set(values) - set(signature.inputs))
            if unknown:
                raise RequestError(
                    f"instance {index}: unknown input '{unknown[0]}'; signature "
                    f"'{signature.name}' takes {_names(signature)}"
                )
        elif single:
            values = {next(iter(signature.inputs)): instance}
        else:
            raise RequestError(
                f"instance {index} must be an object with the inputs {_names(signature)}"
            )
        missing = [n for n in signature.inputs if n not in values]
        if missing:
            raise RequestError(f"instance {index}: missing input '{missing[0]}'")
        scalars = tuple(
            (n, _scalar(values[n], n, signature.inputs[n].dtype, limits, f"instance {index}: "))
            for n in signature.scalar_inputs
        )
        group = groups.setdefault(
            scalars, Group(scalars, {n: [] for n in signature.batched_inputs}, [])
        )
        for n in signature.batched_inputs:
            group.columns[n].append(
                _element(values[n], n, signature.inputs[n], limits, f"instance {index}: ")
            )
        group.rows.append(index)
    return PredictRequest(signature, True, list(groups.values()), len(instances))


def _parse_columns(inputs, signature: SignatureInfo, limits: Limits) -> PredictRequest:
    if not isinstance(inputs, dict) or _is_b64(inputs):
        if len(signature.inputs) != 1:
            raise RequestError(f"'inputs' must be an object with the inputs {_names(signature)}")
        inputs = {next(iter(signature.inputs)): inputs}
    unknown = sorted(set(inputs) - set(signature.inputs))
    if unknown:
        raise RequestError(
            f"unknown input '{unknown[0]}'; signature '{signature.name}' takes {_names(signature)}"
        )
    missing = [n for n in signature.inputs if n not in inputs]
    if missing:
        raise RequestError(f"missing input '{missing[0]}'")
    scalars = tuple(
        (n, _scalar(inputs[n], n, signature.inputs[n].dtype, limits, ""))
        for n in signature.scalar_inputs
    )
    columns, size = {}, None
    for n in signature.batched_inputs:
        value = inputs[n]
        if not isinstance(value, list):
            raise RequestError(f"input '{n}' must be a list (one value per row)")
        if size is not None and len(value) != size:
            raise RequestError(f"input '{n}' has {len(value)} rows, other inputs {size}")
        size = len(value)
        _check_rows(size, limits)
        columns[n] = [
            _element(v, n, signature.inputs[n], limits, f"row {i}: ") for i, v in enumerate(value)
        ]
    return PredictRequest(signature, False, [Group(scalars, columns, list(range(size)))], size)


def _check_rows(rows: int, limits: Limits) -> None:
    if rows > limits.max_rows:
        raise RequestError(f"{rows} rows in one request; the limit is {limits.max_rows}", 413)


def _names(signature: SignatureInfo) -> str:
    return ", ".join(f"'{n}'" for n in signature.inputs)


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _element(value, name: str, info, limits: Limits, where: str):
    """One row's value of a batched input (a string, for every export here)."""
    if len(info.shape) > 1:
        raise RequestError(
            f"{where}input '{name}' has rank {len(info.shape)}; only inputs of "
            "rank 1 (one value per row) are supported"
        )
    if info.dtype == "string":
        return _string(value, name, limits, where)
    return _number(value, name, info.dtype, where)


def _string(value, name: str, limits: Limits, where: str) -> bytes:
    if _is_b64(value):
        if not isinstance(value["b64"], str):
            raise RequestError(f"{where}input '{name}': 'b64' must be a string")
        try:
            data = base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(f"{where}input '{name}': invalid base64") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(f"{where}input '{name}': the text is not UTF-8") from None
    elif isinstance(value, str):
        if len(value) > limits.max_string_bytes:  # cheap bound before encoding
            raise RequestError(
                f"{where}input '{name}' is longer than the limit of "
                f"{limits.max_string_bytes} bytes",
                413,
            )
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestError(
                f"{where}input '{name}' is not valid Unicode (an unpaired surrogate escape)"
            ) from None
    else:
        raise RequestError(f"{where}input '{name}' must be a string, not {_json_type(value)}")
    if len(data) > limits.max_string_bytes:
        raise RequestError(
            f"{where}input '{name}' is {len(data)} bytes of UTF-8; the limit is "
            f"{limits.max_string_bytes}",
            413,
        )
    return data


def _number(value, name: str, dtype: str, where: str):
    if dtype == "bool":
        if not isinstance(value, bool):
            raise RequestError(f"{where}input '{name}' must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(
            f"{where}input '{name}' must be a number ({dtype}), not {_json_type(value)}"
        )
    if dtype in INT_RANGES:
        if isinstance(value, float):
            if not value.is_integer():
                raise RequestError(f"{where}input '{name}' must be an integer ({dtype})")
            value = int(value)
        low, high = INT_RANGES[dtype]
        if not low <= value <= high:
            raise RequestError(f"{where}input '{name}' = {value} does not fit {dtype}")
        return value
    if dtype in FLOAT_TYPES:
        value = float(value)
        if dtype != "float64" and math.isfinite(value) and abs(value) > 3.4028234663852886e38:
            raise RequestError(f"{where}input '{name}' = {value} does not fit {dtype}")
        return value
    raise RequestError(
        f"{where}input '{name}' has dtype {dtype}, which this server cannot take from JSON"
    )


def _scalar(value, name: str, dtype: str, limits: Limits, where: str):
    if isinstance(value, list):
        raise RequestError(f"{where}input '{name}' is a scalar; give one {dtype}, not a list")
    if dtype == "string":
        return _string(value, name, limits, where)
    value = _number(value, name, dtype, where)
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{where}input '{name}' must be finite")
    bounds = limits.argument_ranges().get(name)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise RequestError(
            f"{where}input '{name}' = {value} is out of range [{bounds[0]}, {bounds[1]}]"
        )
    return value


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


# Responses ------------------------------------------------------------------------------


def to_json(value: np.ndarray, name: str):
    """A numpy output as TF Serving writes it: UTF-8 text for strings (base64 objects for
    outputs named ``*_bytes``), the shortest float32 repr for floats."""
    if value.dtype == object or value.dtype.kind == "S":
        if name.endswith("_bytes"):
            return _map(value.tolist(), lambda b: {"b64": base64.b64encode(b).decode("ascii")})
        return _map(value.tolist(), lambda b: b.decode("utf-8", "replace"))
    if value.dtype == np.float32:
        # str(np.float32) is the shortest text that reads back as the same float32
        flat = [float(str(x)) for x in value.ravel()]
        return np.array(flat, dtype=object).reshape(value.shape).tolist()
    return value.tolist()


def _map(nested, function):
    if isinstance(nested, list):
        return [_map(item, function) for item in nested]
    return function(nested)


def dumps(payload) -> bytes:
    # NaN / Infinity are written as tokens, as TF Serving does.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def predict_response(request: PredictRequest, results: list[dict[str, np.ndarray]]) -> dict:
    """``{"predictions": ...}`` (row format) or ``{"outputs": ...}`` (columnar), a single
    output unwrapped as TF Serving does."""
    names = list(request.signature.outputs)
    if not results:  # an empty batch
        if request.row_format:
            return {"predictions": []}
        return {"outputs": [] if len(names) == 1 else {n: [] for n in names}}
    columns = {n: [] for n in names}
    if len(results) == 1:
        columns = {n: to_json(results[0][n], n) for n in names}
    else:  # row format with several scalar groups: back into the request's order
        by_row = {}
        for group, result in zip(request.groups, results):
            converted = {n: to_json(result[n], n) for n in names}
            for position, row in enumerate(group.rows):
                by_row[row] = {n: converted[n][position] for n in names}
        columns = {n: [by_row[row][n] for row in range(request.size)] for n in names}
    if request.row_format:
        if len(names) == 1:
            return {"predictions": columns[names[0]]}
        return {"predictions": [{n: columns[n][i] for n in names} for i in range(request.size)]}
    if len(names) == 1:
        return {"outputs": columns[names[0]]}
    return {"outputs": columns}
