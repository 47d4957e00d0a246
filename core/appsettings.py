"""Typed settings, each tunable declared once, beside the field of the app's settings object.

An app's ``conf.py`` declares a frozen dataclass whose fields are its tunables::

    @dataclass(frozen=True, slots=True)
    class ConversionSettings:
        # Below this, no answer is given: 404 fnsku_not_found, refunded.
        min_confidence: float = setting("CONVERSION_MIN_CONFIDENCE", default=0.15)

One line says everything: the environment variable (and the Django setting of the same name),
the type (the field's annotation), the default, the bounds (``minimum``, or ``clean``) and, in
the comment above it, the meaning, which ``manage.py envvars`` puts in docs/operations.md.

``config/settings.py`` reads the environment for them at startup (``read_environment``: by
dotted path, as it names apps and middleware) and keeps the values as ordinary Django settings,
so ``override_settings`` works as for any other setting. The app reads them with ``load(cls)``,
on each call: an override, or a changed setting, is seen at once. A class may define
``validate(self, settings)``: called once at startup with the settings read so far, it refuses
unsafe values with ``ImproperlyConfigured``.
"""

from __future__ import annotations

import dataclasses
import importlib
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, overload

import environ
from django.conf import settings
from django.utils.module_loading import import_string

T = TypeVar("T")
S = TypeVar("S")

_METADATA_KEY = "core.appsettings"

# The field's annotation: how its environment variable is read (django-environ), and the
# type name docs/operations.md shows. Lists are settings of lists, fields of tuples.
ENV_READERS: dict[str, tuple[str, type | None]] = {
    "str": ("str", None),
    "bool": ("bool", None),
    "int": ("int", None),
    "float": ("float", None),
    "tuple[str, ...]": ("list", None),
    "tuple[int, ...]": ("list", int),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Declared:
    """One tunable: its environment variable and Django setting, and how its value is made."""

    name: str
    default: object
    default_from: str | None
    minimum: float | None
    clean: Callable[[Any], Any] | None

    def value(self, raw: Any) -> Any:
        value = self.clean(raw) if self.clean is not None else raw
        if isinstance(value, list):
            value = tuple(value)
        if self.minimum is not None:
            value = max(self.minimum, value)
        return value


@overload
def setting(name: str, *, default: T, minimum: float | None = None) -> T: ...
@overload
def setting(name: str, *, default: object, clean: Callable[[Any], T], minimum: float | None = None) -> T: ...
@overload
def setting(name: str, *, default_from: str) -> Any: ...
def setting(
    name: str,
    *,
    default: object = None,
    clean: Callable[[Any], Any] | None = None,
    minimum: float | None = None,
    default_from: str | None = None,
) -> Any:
    """Declare a field read from the setting and environment variable ``name``.

    ``default`` is used when the variable is not set, or, with ``default_from``, the value of an
    earlier setting (such as ``DEBUG``). The value is passed through ``clean`` (a list becomes a
    tuple), and raised to ``minimum``, when the settings object is made: the Django setting
    keeps what was given.
    """
    declared = Declared(name=name, default=default, default_from=default_from, minimum=minimum, clean=clean)
    # No dataclass default: load() always passes every field.
    return dataclasses.field(metadata={_METADATA_KEY: declared})


def non_empty(values: list[str]) -> tuple[str, ...]:
    """A list setting's items without the empty ones (``KEYS=`` is no key, not one empty key)."""
    return tuple(value for value in values if value)


_FIELDS: dict[type, tuple[tuple[str, str, Declared], ...]] = {}


def declared_fields(cls: type) -> tuple[tuple[str, str, Declared], ...]:
    """(field name, annotation, declaration) of each declared field of ``cls``, in order."""
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(
            (field.name, str(field.type), field.metadata[_METADATA_KEY])
            for field in (dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ())
            if _METADATA_KEY in field.metadata
        )
    return _FIELDS[cls]


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    read: Callable[[Any], tuple[Any, ...]]  # every setting of the class, in its fields' order
    transforms: tuple[tuple[int, Declared], ...]  # the values that need more than reading


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    fields = declared_fields(cls)
    if len(fields) != len(dataclasses.fields(cls)):
        raise TypeError(f"{cls.__name__}: every field of a settings class is a setting(...)")
    getter = operator.attrgetter(*(declared.name for _, _, declared in fields))
    read = getter if len(fields) > 1 else lambda source: (getter(source),)
    transforms = tuple(
        (index, declared)
        for index, (_, annotation, declared) in enumerate(fields)
        if declared.clean is not None or declared.minimum is not None or annotation.startswith("tuple")
    )
    return _Plan(read=read, transforms=transforms)


def load(cls: type[S]) -> S:
    """``cls`` made from the current Django settings, read on each call (a few microseconds: it
    sits on the lookup's hot path)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    values = plan.read(settings)
    if plan.transforms:
        changed = list(values)
        for index, declared in plan.transforms:
            changed[index] = declared.value(changed[index])
        values = tuple(changed)
    return cls(*values)


def settings_classes(path: str) -> Iterator[type]:
    """The class at ``path`` (``app.conf.Class``), or every one a module declares (``app.conf``)."""
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as missing:
        if missing.name != path:
            raise
        yield import_string(path)
        return
    for value in vars(module).values():
        # type(), not isinstance(): the module's ``settings`` (django.conf's LazySettings) would
        # answer isinstance by loading the settings, while config/settings.py is being imported.
        if issubclass(type(value), type) and value.__module__ == module.__name__ and declared_fields(value):
            yield value


def read_environment(env: environ.Env, *paths: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The Django settings declared by the classes at ``paths``, read from the environment.

    ``namespace`` holds the settings read before (for ``default_from`` and ``validate``).
    """
    values: dict[str, Any] = {}
    for path in paths:
        for cls in settings_classes(path):
            own: dict[str, Any] = {}
            for _, annotation, declared in declared_fields(cls):
                reader, item = ENV_READERS[annotation]
                default = namespace[declared.default_from] if declared.default_from else declared.default
                if reader == "list":
                    own[declared.name] = env.list(declared.name, cast=item, default=default)
                else:
                    own[declared.name] = getattr(env, reader)(declared.name, default=default)
            validate = getattr(cls, "validate", None)
            if validate is not None:
                fields = {
                    name: declared.value(own[declared.name]) for name, _, declared in declared_fields(cls)
                }
                validate(cls(**fields), {**namespace, **values, **own})
            values.update(own)
    return values
