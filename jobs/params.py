"""A task's parameters, read from its function's signature: each keyword argument becomes a
DRF field, so that the API's checks, the OpenAPI schema's per-task body and the dashboard's
start form all come from the one description.

Types understood: int, float, str, bool, `Literal[...]` of strings, `list[T]`, `dict[str, T]`
(of those), `T | None`, `Any` (any JSON value); defaults make a parameter optional. Bounds
come from `Annotated[T, Between(...), Length(...), AnonymousAtMost(...), "help text"]`
(bespin.tasks); a bound may be a callable, read each time a request is checked, so that a
setting decides it. A parameter Bespin cannot describe is an error when the task loads.
"""

import inspect
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from rest_framework import serializers

from bespin.tasks import AnonymousAtMost, Between, Length, resolve


class UnsupportedTask(TypeError):
    """A task whose parameters Bespin cannot check (the message says which and why)."""


@dataclass(frozen=True)
class Param:
    """One parameter: how to make its field, and what anonymous callers may ask of it."""

    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty
    help: str = ""
    metadata: tuple = ()
    anonymous_at_most: Any = None

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: JSON has no NaN or infinity, and neither do parameters."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


def _unwrap_optional(annotation) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2:
            return members[0], True
    return annotation, False


def _apply(kwargs: dict, metadata: tuple, base) -> dict:
    for item in metadata:
        if isinstance(item, Between) and base in (int, float):
            if item.minimum is not None:
                kwargs["min_value"] = resolve(item.minimum)
            if item.maximum is not None:
                kwargs["max_value"] = resolve(item.maximum)
        elif isinstance(item, Length):
            low, high = ("min_length", "max_length")
            if item.minimum is not None:
                kwargs[low] = resolve(item.minimum)
            if item.maximum is not None:
                kwargs[high] = resolve(item.maximum)
    return kwargs


def field_for(annotation, *, where: str, metadata: tuple = (), **kwargs) -> serializers.Field:
    """The DRF field that checks a value of `annotation` (`where` names it in errors)."""
    if typing.get_origin(annotation) is Annotated:
        annotation, *extra = typing.get_args(annotation)
        metadata = (*metadata, *extra)
    annotation, nullable = _unwrap_optional(annotation)
    if nullable:
        kwargs["allow_null"] = True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is bool:
        return serializers.BooleanField(**kwargs)
    if annotation is int:
        return serializers.IntegerField(**_apply(kwargs, metadata, int))
    if annotation is float:
        return FiniteFloatField(**_apply(kwargs, metadata, float))
    if annotation is str:
        return serializers.CharField(allow_blank=True, trim_whitespace=False, **_apply(kwargs, metadata, str))
    if origin is Literal:
        if not args or not all(isinstance(arg, str) for arg in args):
            raise UnsupportedTask(f"{where}: a Literal of strings only")
        return serializers.ChoiceField(choices=list(args), **kwargs)
    if annotation in (list, typing.List) or origin in (list, typing.List):  # noqa: UP006
        child = field_for(args[0], where=f"{where}[]") if args else serializers.JSONField()
        return serializers.ListField(child=child, **_apply(kwargs, metadata, list))
    if annotation in (dict, typing.Dict) or origin in (dict, typing.Dict):  # noqa: UP006
        if args and args[0] is not str:
            raise UnsupportedTask(f"{where}: a dict's keys must be str, as JSON's are")
        child = field_for(args[1], where=f"{where}{{}}") if args else serializers.JSONField()
        return serializers.DictField(child=child, **kwargs)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return serializers.JSONField(**kwargs)
    raise UnsupportedTask(f"{where}: {annotation!r} is not a type Bespin can check (int, float, str, bool, "
                          "Literal, list, dict, Any, or None of them)")  # fmt: skip


def params_of(function, *, takes_context: bool) -> list[Param]:
    """The keyword arguments a task's function takes, the context left out."""
    where = f"{function.__module__}.{function.__qualname__}"
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # a hint naming what the module cannot resolve
        raise UnsupportedTask(f"{where}: its type hints cannot be read ({error})") from None
    found = []
    for index, parameter in enumerate(inspect.signature(function).parameters.values()):
        if takes_context and index == 0:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise UnsupportedTask(f"{where}: *args, **kwargs and positional-only parameters cannot be described")
        annotation = hints.get(parameter.name, Any)
        metadata = typing.get_args(annotation)[1:] if typing.get_origin(annotation) is Annotated else ()
        help_text = " ".join(item for item in metadata if isinstance(item, str))
        ceiling = next((item.value for item in metadata if isinstance(item, AnonymousAtMost)), None)
        param = Param(parameter.name, annotation, parameter.default, help_text, metadata, ceiling)
        field_for(annotation, where=f"{where}({parameter.name})")  # refused now, not at a request
        found.append(param)
    return found


class ParamsSerializer(serializers.Serializer):
    """A task's parameters: a field for each, built anew each time (so that bounds read from
    settings follow them), and a key no parameter has refused by name."""

    params: list[Param] = []
    # The OpenAPI schema's additionalProperties: false (bespin.lib.schema).
    strict = True

    def get_fields(self):
        fields = {}
        for param in self.params:
            options = {"help_text": param.help} if param.help else {}
            if not param.required:
                options["required"] = False
                options["default"] = param.default
            fields[param.name] = field_for(param.annotation, where=param.name, **options)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {param.name for param in self.params})
            if unknown:
                known = ", ".join(param.name for param in self.params) or "none"
                raise serializers.ValidationError(
                    {name: [f"this task has no parameter {name!r} (it takes: {known})"] for name in unknown}
                )
        return super().to_internal_value(data)


@dataclass(frozen=True)
class Described:
    serializer: type[ParamsSerializer]
    anonymous_ceilings: dict = field(default_factory=dict)


def camel(name: str) -> str:
    """`reports.tasks.send_report` as `ReportsTasksSendReport`: a name for the schema's
    components, which generated clients make classes of."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-]+", name) if part)


def describe(function, *, takes_context: bool, name: str) -> Described:
    """The parameter serializer of a task's function, and its anonymous ceilings (name ->
    bound)."""
    params = params_of(function, takes_context=takes_context)
    serializer = type(f"{camel(name)}Params", (ParamsSerializer,), {"params": params, "__module__": __name__})
    ceilings = {param.name: param.anonymous_at_most for param in params if param.anonymous_at_most is not None}
    return Described(serializer, ceilings)
