"""One builder for every typed config: a dataclass from a mapping, with each key and value checked.

A config is a dataclass. Its fields say everything about a setting: the type hint (``int``,
``float``, ``str``, ``bool``, ``X | None``, ``Literal[...]`` choices, ``list[int]``,
``dict[str, str]``, or a nested config dataclass) and, through :func:`setting`, the valid range
or a list of choices known only at run time (the registered cells). The dataclass's
``__post_init__`` calls :func:`check_fields` (and checks what involves two fields), so a config
built in code is checked as one read from YAML::

    @dataclass
    class ToyConfig:
        steps: int = setting(100, ge=1)
        gap: Literal["rests", "chromatic"] = "rests"

        def __post_init__(self) -> None:
            check_fields(self)

    build_config(ToyConfig, {"steps": "2_000"})          # ToyConfig(steps=2000, gap='rests')
    build_config(ToyConfig, {"step": 3})                 # ConfigError: unknown config key 'step'; valid keys: steps, gap

Every error is one :class:`~musicgate.errors.ConfigError` line that names the key (its dotted
path in a nested config) and what is valid.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from typing import Any, Literal, Union

from musicgate.errors import ConfigError

_NONE_WORDS = ("none", "null", "~")


def setting(default: Any = MISSING, *, factory: Callable[[], Any] | Any = MISSING, ge: float | None = None,
            gt: float | None = None, le: float | None = None, lt: float | None = None,
            choices: Callable[[], Iterable[Any]] | Iterable[Any] | None = None) -> Any:
    """A dataclass field with its valid range (``ge``, ``gt``, ``le``, ``lt``) or choices.

    ``choices`` may be a callable (read when checked: a registry that grows). A range applies to
    every item of a list. ``None`` is always valid for an ``X | None`` field.
    """
    meta = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt, choices=choices).items() if v is not None}
    return dataclasses.field(default=default, default_factory=factory, metadata=meta)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a config class (read once: every instance is checked)."""
    return typing.get_type_hints(cls)


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else str(name)


def _range_text(meta: dict, integer: bool) -> str:
    lo, hi = meta.get("ge", meta.get("gt")), meta.get("le", meta.get("lt"))
    if lo is not None and hi is not None:
        return f"be in {'[' if 'ge' in meta else '('}{lo:g}, {hi:g}{']' if 'le' in meta else ')'}"
    if integer and meta.get("ge") == 1 or integer and meta.get("gt") == 0:
        return "be a positive integer"
    if meta.get("ge") == 0:
        return "not be negative"
    if lo is not None:
        return f"be {'>=' if 'ge' in meta else '>'} {lo:g}"
    return f"be {'<=' if 'le' in meta else '<'} {hi:g}"


def _in_range(value: Any, meta: dict) -> bool:
    return not (("ge" in meta and value < meta["ge"]) or ("gt" in meta and value <= meta["gt"])
                or ("le" in meta and value > meta["le"]) or ("lt" in meta and value >= meta["lt"]))


def _literal(tp: Any) -> tuple | None:
    """The choices of ``Literal[...]`` or ``Literal[...] | None`` (None included), else None."""
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if typing.get_origin(arg) is Literal:
                return typing.get_args(arg) + ((None,) if type(None) in typing.get_args(tp) else ())
    return None


def check_fields(obj: Any, where: str = "") -> None:
    """Check every field of config dataclass ``obj`` against its Literal choices, ``choices`` and range.

    Parameters
    ----------
    obj : a config dataclass instance (call this from its ``__post_init__``).
    where : the config's dotted path in messages (``model`` gives ``model.hidden ...``).

    Raises
    ------
    ConfigError
        One line naming the field, the value and what is valid.
    """
    hints = _hints(type(obj))
    for f in fields(obj):
        value, path = getattr(obj, f.name), _path(where, f.name)
        choices = f.metadata.get("choices")
        choices = (choices() if callable(choices) else choices) if choices is not None else _literal(hints[f.name])
        if choices is not None and value not in tuple(choices) and not (value is None and _optional(hints[f.name])):
            raise ConfigError(f"unknown {path} {value!r}: not one of {', '.join(str(c) for c in choices)}")
        if value is None or not {"ge", "gt", "le", "lt"} & set(f.metadata):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not _in_range(item, f.metadata):
                integer = isinstance(item, int)
                raise ConfigError(f"{path} must {_range_text(f.metadata, integer)}, got {item}")


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _convert(value: Any, tp: Any, path: str, what: str) -> Any:
    """``value`` as type ``tp``; strings from the command line or YAML are read as numbers where asked."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in _NONE_WORDS):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], path, what) if len(inner) == 1 else value  # the dataclass checks
    if dataclasses.is_dataclass(tp):
        return build_config(tp, value, path, what=what)
    if origin is Literal:  # the dataclass checks the choice; numbers as written in YAML stay numbers
        return str(value) if all(isinstance(a, str) for a in args) and isinstance(value, (int, float)) else value
    if origin is list or tp is list:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_convert(v, args[0], path, what) for v in items] if args else list(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        kt, vt = args or (Any, Any)
        return {_convert(k, kt, path, what): _convert(v, vt, f"{path}.{k}", what) for k, v in value.items()}
    return _scalar(value, tp, path)


def _scalar(value: Any, tp: type, path: str) -> Any:
    bad = ConfigError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {value!r} ({type(value).__name__})")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "false", "no", "off"):
            return value.lower() in ("true", "yes", "on")
        raise bad
    if isinstance(value, bool) or value is None:
        raise bad
    if tp in (int, float):
        num = value
        if isinstance(value, str):
            try:
                num = float(value.replace("_", "")) if tp is float or not value.strip().lstrip("-").isdigit() \
                    else int(value)
            except ValueError:
                raise bad from None
        if not isinstance(num, (int, float)):
            raise bad
        if tp is float:
            return float(num)
        if isinstance(num, float):
            if not num.is_integer():
                raise bad
            return int(num)
        return num
    if tp is str:
        if isinstance(value, (str, int, float)):
            return str(value)
        raise bad
    raise ConfigError(f"{path}: unsupported setting type {tp}")  # pragma: no cover


def build_config(cls: type, data: Any = None, where: str = "", *, what: str = "config") -> Any:
    """An instance of config dataclass ``cls`` from a mapping, checking every key and value.

    Parameters
    ----------
    cls : the config dataclass.
    data : a mapping of settings (keys missing take the field defaults), an instance of ``cls``,
        or None (all defaults).
    where : dotted path of this config in a larger one (for messages).
    what : what the keys are called in messages (``polyphonic config``).

    Raises
    ------
    ConfigError
        An unknown key (the message lists the valid ones), a value of the wrong type or out of range.
    """
    if data is None:
        data = {}
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        data = dataclasses.asdict(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{where or what}: expected a mapping of settings, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    values = {}
    for key, value in data.items():
        path = _path(where, key)
        if key not in names:
            raise ConfigError(f"unknown {what} key {path!r}; valid keys{' in ' + where if where else ''}: "
                              f"{', '.join(names)}")
        values[key] = _convert(value, hints[key], path, what)
    return cls(**values)


def apply_overrides(cls: type, data: dict, overrides: Iterable[str] | None, *, what: str = "config") -> dict:
    """A copy of the settings ``data`` with ``key=value`` overrides set (values read as YAML scalars).

    A dotted key reaches into a nested config (``model.hidden=512``) or a mapping setting
    (``models.lstm=run/best.pt``). Keys are checked against ``cls``; values are checked when the
    result is built with :func:`build_config`.
    """
    import yaml

    data = copy.deepcopy(data)
    for item in overrides or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value (section.key=value for a key of a "
                              "section), e.g. model.hidden=512")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        node, tp = data, cls
        for i, part in enumerate(parts):
            path, last = ".".join(parts[:i + 1]), i == len(parts) - 1
            if tp is None:  # a key of a mapping setting
                if not last:
                    raise ConfigError(f"override {key!r}: {path!r} is a value, not a section")
                node[part] = value
                break
            names = [f.name for f in fields(tp)]
            if part not in names:
                where = ".".join(parts[:i])
                raise ConfigError(f"unknown {what} key {path!r}; valid keys{' in ' + where if where else ''}: "
                                  f"{', '.join(names)}")
            hint = _hints(tp)[part]
            if last:
                if dataclasses.is_dataclass(hint):
                    raise ConfigError(f"override {key!r} names a section; set one of its keys: "
                                      f"{', '.join(f.name for f in fields(hint))}")
                node[part] = value
            elif dataclasses.is_dataclass(hint):
                node, tp = node.setdefault(part, {}), hint
            elif typing.get_origin(hint) is dict or hint is dict:
                sub = node.get(part)
                node[part] = dict(sub) if isinstance(sub, dict) else {}
                node, tp = node[part], None
            else:
                raise ConfigError(f"override {key!r}: {path!r} is a value, not a section")
    return data
