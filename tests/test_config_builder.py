"""The one config builder (musicgate.config): every typed config is built and checked the same way."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.config import apply_overrides, build_config, check_fields, setting
from musicgate.errors import ConfigError


@dataclass
class Inner:
    size: int = setting(4, ge=1)
    rate: float = setting(0.5, gt=0, lt=1)

    def __post_init__(self) -> None:
        check_fields(self, "inner")


@dataclass
class Toy:
    inner: Inner = field(default_factory=Inner)
    gap: Literal["rests", "chromatic"] = "rests"
    mode: Literal["a", "b"] | None = None
    cell: str = setting("x", choices=lambda: ("x", "y"))
    lengths: list[int] = setting(factory=lambda: [1, 2], ge=1)
    models: dict[str, str] = field(default_factory=lambda: {"a": "one"})
    flag: bool = False
    seed: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        check_fields(self)


def _configs():
    from musicgate.experiments.config import RetentionConfig
    from musicgate.experiments.memory import MemoryConfig
    from musicgate.experiments.polyphonic import PolyConfig
    from musicgate.experiments.probe import ProbeConfig
    from musicgate.speech.features import FeatureConfig
    from musicgate.train.config import RunConfig

    return [RunConfig, RetentionConfig, PolyConfig, ProbeConfig, MemoryConfig, FeatureConfig]


def test_values_are_converted_from_yaml_and_command_line_text():
    toy = build_config(Toy, {"inner": {"size": "1_000", "rate": "0.25"}, "mode": "null", "lengths": 7,
                             "flag": "yes", "seed": 3.0})
    assert toy == Toy(inner=Inner(size=1000, rate=0.25), mode=None, lengths=[7], flag=True, seed=3)
    assert isinstance(toy.seed, int) and isinstance(toy.inner.rate, float)


@pytest.mark.parametrize("data, message", [
    ({"gapp": "rests"}, "unknown config key 'gapp'; valid keys: inner, gap, mode, cell, lengths, models, flag, seed"),
    ({"inner": {"sise": 2}}, "unknown config key 'inner.sise'; valid keys in inner: size, rate"),
    ({"inner": 3}, "inner: expected a mapping of settings, got 3"),
    ({"inner": {"size": 0}}, "inner.size must be a positive integer, got 0"),
    ({"inner": {"size": 2.5}}, r"inner.size: expected int, got 2.5 \(float\)"),
    ({"inner": {"rate": 1}}, r"inner.rate must be in \(0, 1\), got 1.0"),
    ({"gap": "silence"}, "unknown gap 'silence': not one of rests, chromatic"),
    ({"mode": "c"}, "unknown mode 'c': not one of a, b, None"),
    ({"cell": "z"}, "unknown cell 'z': not one of x, y"),
    ({"lengths": [3, 0]}, "lengths must be a positive integer, got 0"),
    ({"models": ["a"]}, r"models: expected a mapping, got \['a'\]"),
    ({"flag": "maybe"}, "flag: expected bool"),
    ({"seed": -1}, "seed must not be negative, got -1"),
])
def test_every_bad_key_or_value_is_one_line_naming_it(data, message):
    with pytest.raises(ConfigError, match=message) as err:
        build_config(Toy, data)
    assert "\n" not in str(err.value)


def test_checks_live_in_the_dataclass_so_code_cannot_skip_them():
    with pytest.raises(ConfigError, match="inner.size must be a positive integer"):
        Inner(size=0)
    with pytest.raises(ConfigError, match="unknown gap"):
        dataclasses.replace(Toy(), gap="noise")


def test_overrides_reach_sections_and_mappings():
    data = apply_overrides(Toy, dataclasses.asdict(Toy()), ["inner.size=9", "models.b=two", "lengths=[4, 5]"])
    toy = build_config(Toy, data)
    assert (toy.inner.size, toy.models, toy.lengths) == (9, {"a": "one", "b": "two"}, [4, 5])
    for item, message in [("inner=3", "names a section; set one of its keys: size, rate"),
                          ("seed.x=1", "'seed' is a value, not a section"),
                          ("models.b.c=1", "'models.b' is a value"),
                          ("inner.sise=1", "valid keys in inner: size, rate"),
                          ("seed", "must look like key=value")]:
        with pytest.raises(ConfigError, match=message):
            apply_overrides(Toy, {}, [item])


@pytest.mark.parametrize("cls", _configs(), ids=lambda c: c.__name__)
def test_every_typed_config_goes_through_the_builder(cls):
    default = cls()
    assert build_config(cls, dataclasses.asdict(default)) == default
    with pytest.raises(ConfigError, match=r"unknown .*key 'nonsense'; valid keys: ") as err:
        build_config(cls, {"nonsense": 1})
    assert dataclasses.fields(cls)[0].name in str(err.value)


@pytest.mark.parametrize("cls, field_name", [("ProbeConfig", "steps"), ("MemoryConfig", "batch_size"),
                                             ("PolyConfig", "hidden"), ("FeatureConfig", "n_mels")])
def test_experiment_and_feature_configs_check_their_own_ranges(cls, field_name):
    cls = {c.__name__: c for c in _configs()}[cls]
    with pytest.raises(ConfigError, match=f"{field_name} must be a positive integer, got 0"):
        cls(**{field_name: 0})


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 10**6), rate=st.floats(0.001, 0.999), gap=st.sampled_from(["rests", "chromatic"]),
       lengths=st.lists(st.integers(1, 10**4), min_size=1, max_size=5), flag=st.booleans(),
       models=st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text("xyz/.", max_size=6), max_size=3))
def test_build_round_trips_through_a_plain_dict(size, rate, gap, lengths, flag, models):
    toy = Toy(inner=Inner(size=size, rate=rate), gap=gap, lengths=lengths, flag=flag, models=models)
    assert build_config(Toy, dataclasses.asdict(toy)) == toy
    assert build_config(Toy, toy) == toy
