"""The values a generated check uses instead of the generated ones: `--check-values` and CLI.

A check-values file is JSON (the CLI options say the same thing one value at a time):

    {"params": {"window": 8, "cap": 30.0},
     "inputs": {"slopes": {"low": 0.01, "high": 0.5}, "doc": {"low": 0, "high": 3}, "flags": true}}

- a param gets exactly the value given (`--param window=8`);
- an input gets either one value everywhere (`--input flags=true`) or values drawn uniformly
  from [low, high) (`--input slopes=0.01:0.5`; ints from low to high - 1). A `sorted` input's
  drawn values are sorted along the last dim.

`read_values_file` and `values_from_cli` hold the values as given; `resolve` checks them
against one spec and gives them the spec's types. Every problem is a CheckValuesError whose
message names the file or option, the entry and the fix.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .. import ir

Number = Union[int, float, bool]


class CheckValuesError(Exception):
    """A check value that cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True)
class InputValues:
    """How the checks fill one input: `fill` everywhere, or uniform draws from [low, high)."""
    fill: Optional[Number] = None
    low: Optional[Number] = None
    high: Optional[Number] = None

    def describe(self) -> str:
        return f"{self.fill}" if self.fill is not None else f"[{self.low}, {self.high})"


@dataclass(frozen=True)
class CheckValues:
    """Values by name as the user gave them (JSON values, or text from the command line);
    `origin` names where each came from, for messages."""
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    origin: Mapping[str, str] = field(default_factory=dict)

    def merged(self, over: "CheckValues") -> "CheckValues":
        """These values with `over`'s on top (the command line wins over the file)."""
        return CheckValues({**self.params, **over.params}, {**self.inputs, **over.inputs},
                           {**self.origin, **over.origin})

    def names(self) -> set[str]:
        return set(self.params) | set(self.inputs)


def read_values_file(path: Union[str, Path]) -> CheckValues:
    """The values in a check-values JSON file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckValuesError(f"no such check-values file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckValuesError(f"cannot read check-values file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CheckValuesError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or set(data) - {"params", "inputs"}:
        extra = sorted(set(data) - {"params", "inputs"}) if isinstance(data, dict) else None
        what = f"unknown key {extra[0]!r}" if extra else "not an object"
        raise CheckValuesError(f"{path}: {what}; a check-values file is "
                               '{"params": {NAME: VALUE, ...}, "inputs": {NAME: VALUE or {"low": L, "high": H}, ...}}')
    sections = {}
    for section in ("params", "inputs"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise CheckValuesError(f"{path}: '{section}' must be an object of NAME: VALUE; got {json.dumps(entries)}")
        sections[section] = entries
    origin = {name: f"{path}: {section}.{name}" for section, entries in sections.items() for name in entries}
    return CheckValues(sections["params"], sections["inputs"], origin)


def values_from_cli(params: Optional[list[str]], inputs: Optional[list[str]]) -> CheckValues:
    """The values of `--param NAME=VALUE` and `--input NAME=VALUE|LOW:HIGH` options."""
    parsed: dict[str, dict] = {"param": {}, "input": {}}
    origin = {}
    for option, items in (("param", params), ("input", inputs)):
        for item in items or []:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                example = "window=8" if option == "param" else "slopes=0.01:0.5"
                raise CheckValuesError(f"--{option} takes NAME=VALUE (e.g. --{option} {example}); got {item!r}")
            parsed[option][name.strip()] = value.strip()
            origin[name.strip()] = f"--{option} {item}"
    return CheckValues(parsed["param"], parsed["input"], origin)


def resolve(spec: ir.Spec, values: CheckValues, strict: bool = True) -> tuple[dict, dict]:
    """(params, inputs) for `spec`: typed param values and InputValues by name.

    strict: a name the spec does not declare is an error (one spec checked); otherwise such
    names are ignored (one set of values for many specs).
    """
    params, inputs = {}, {}
    for name, raw in values.params.items():
        declared = spec.param(name)
        if declared is None:
            if strict:
                raise CheckValuesError(_unknown(values, name, "param", [p.name for p in spec.params], spec))
            continue
        params[name] = _typed(raw, declared.type, values.origin.get(name, name))
    for name, raw in values.inputs.items():
        declared = spec.input(name)
        if declared is None:
            if strict:
                raise CheckValuesError(_unknown(values, name, "input", [x.name for x in spec.inputs], spec))
            continue
        inputs[name] = _input_values(raw, declared, values.origin.get(name, name))
    return params, inputs


def _unknown(values: CheckValues, name: str, what: str, declared: list[str], spec: ir.Spec) -> str:
    known = ", ".join(f"'{n}'" for n in declared) if declared else "none"
    return f"{values.origin.get(name, name)}: the spec '{spec.name}' has no {what} '{name}' (its {what}s: {known})"


def _typed(raw: Any, kind: str, where: str) -> Number:
    """`raw` (JSON value or text) as a value of type `kind`."""
    if isinstance(raw, str):
        text = raw.strip()
        try:
            if kind == ir.BOOL:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return text.lower() in ("true", "1")
            value = int(text) if kind == ir.INT else float(text)
        except ValueError:
            raise CheckValuesError(f"{where}: expected {_KIND_WORDS[kind]}; got {text!r}") from None
    else:
        value = raw
        ok = (isinstance(value, bool) if kind == ir.BOOL else
              isinstance(value, int) and not isinstance(value, bool) if kind == ir.INT else
              isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise CheckValuesError(f"{where}: expected {_KIND_WORDS[kind]}; got {json.dumps(raw)}")
        value = float(value) if kind == ir.FLOAT else value
    if kind == ir.FLOAT and not math.isfinite(value):
        raise CheckValuesError(f"{where}: expected a finite number; got {value}")
    return value


_KIND_WORDS = {ir.INT: "an int", ir.FLOAT: "a number", ir.BOOL: "true or false"}


def _input_values(raw: Any, declared: ir.Input, where: str) -> InputValues:
    kind = declared.type
    if isinstance(raw, str) and ":" in raw:
        low, _, high = raw.partition(":")
        raw = {"low": low, "high": high}
    if isinstance(raw, dict):
        if kind == ir.BOOL:
            raise CheckValuesError(f"{where}: the bool input '{declared.name}' takes true or false, not a range")
        if set(raw) != {"low", "high"}:
            raise CheckValuesError(f"{where}: a range is {{\"low\": L, \"high\": H}} (on the command line L:H); "
                                   f"got keys {sorted(raw)}")
        low, high = (_typed(raw[key], kind, f"{where} ({key})") for key in ("low", "high"))
        if not low < high:
            raise CheckValuesError(f"{where}: the range needs low < high (high is excluded); got {low} and {high}")
        return InputValues(low=low, high=high)
    return InputValues(fill=_typed(raw, kind, where))
