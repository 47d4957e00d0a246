"""Typed settings declared once: read from the environment at startup, from Django's settings after."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils.functional import LazyObject

from core.appsettings import load, non_empty, read_environment, setting


def _lower(value: str) -> str:
    return value.lower()


@dataclass(frozen=True, slots=True)
class SampleSettings:
    # How many, at least one.
    count: int = setting("SAMPLE_COUNT", default=3, minimum=1)
    ratio: float = setting("SAMPLE_RATIO", default=0.5)
    name: str = setting("SAMPLE_NAME", default="Box", clean=_lower)
    keys: tuple[str, ...] = setting("SAMPLE_KEYS", default=[], clean=non_empty)
    delays: tuple[int, ...] = setting("SAMPLE_DELAYS", default=[1, 2])
    enabled: bool = setting("SAMPLE_ENABLED", default_from="DEBUG")

    def validate(self, settings: Mapping[str, Any]) -> None:
        if self.name == "forbidden" and not settings["DEBUG"]:
            raise ImproperlyConfigured("SAMPLE_NAME may not be forbidden with DEBUG=0.")


PATH = f"{__name__}.SampleSettings"


def read(debug: bool = True, **environment: str) -> dict[str, Any]:
    env = environ.Env()
    env.ENVIRON = environment  # the variables of this test only
    return read_environment(env, PATH, namespace={"DEBUG": debug})


def test_the_environment_gives_typed_settings_and_defaults_stand_in_for_what_is_unset():
    assert read() == {
        "SAMPLE_COUNT": 3,
        "SAMPLE_RATIO": 0.5,
        "SAMPLE_NAME": "Box",
        "SAMPLE_KEYS": [],
        "SAMPLE_DELAYS": [1, 2],
        "SAMPLE_ENABLED": True,
    }
    values = read(
        debug=False, SAMPLE_COUNT="7", SAMPLE_RATIO="0.25", SAMPLE_KEYS="a,,b", SAMPLE_DELAYS="5,10"
    )
    assert values["SAMPLE_COUNT"] == 7
    assert values["SAMPLE_RATIO"] == 0.25
    assert values["SAMPLE_KEYS"] == ["a", "b"]
    assert values["SAMPLE_DELAYS"] == [5, 10]
    assert values["SAMPLE_ENABLED"] is False  # its default is DEBUG's value


def test_a_malformed_number_stops_the_start():
    with pytest.raises(ValueError, match="abc"):
        read(SAMPLE_COUNT="abc")


def test_validate_refuses_unsafe_values_at_startup():
    with pytest.raises(ImproperlyConfigured, match="SAMPLE_NAME"):
        read(debug=False, SAMPLE_NAME="forbidden")
    assert read(debug=True, SAMPLE_NAME="forbidden")["SAMPLE_NAME"] == "forbidden"


def test_the_object_is_made_from_the_current_settings_cleaned_and_bounded():
    values = read(SAMPLE_COUNT="0", SAMPLE_NAME="Crate")
    # The Django settings keep what was given; the object has it cleaned and bounded.
    with override_settings(**{**values, "SAMPLE_KEYS": ["a", "", "b"]}):
        sample = load(SampleSettings)
        assert sample == SampleSettings(
            count=1, ratio=0.5, name="crate", keys=("a", "b"), delays=(1, 2), enabled=True
        )
        with override_settings(SAMPLE_RATIO=0.75, SAMPLE_DELAYS=[3]):
            assert load(SampleSettings).ratio == 0.75
            assert load(SampleSettings).delays == (3,)
        assert load(SampleSettings).ratio == 0.5


def test_every_field_of_a_settings_class_must_be_declared():
    @dataclass(frozen=True)
    class Mixed:
        declared: int = setting("SAMPLE_COUNT", default=3)
        plain: int = 0

    with override_settings(SAMPLE_COUNT=3), pytest.raises(TypeError, match="every field"):
        load(Mixed)


class _Untouchable(LazyObject):
    def _setup(self) -> None:
        raise AssertionError("the settings were loaded while being read")


def test_a_conf_module_holding_django_settings_is_read_without_loading_them(monkeypatch):
    # conf.py modules import django.conf's settings; read while config/settings.py is being
    # imported, touching that object would load a half-made settings module.
    module = types.ModuleType("sample_conf")
    module.settings = _Untouchable()  # type: ignore[attr-defined]

    @dataclass(frozen=True)
    class Declared:
        count: int = setting("SAMPLE_COUNT", default=3)

    Declared.__module__ = module.__name__
    module.Declared = Declared  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)

    env = environ.Env()
    env.ENVIRON = {}
    assert read_environment(env, module.__name__, namespace={}) == {"SAMPLE_COUNT": 3}
