"""A JSON body's values must have the types the OpenAPI schema gives them, and its keys must
be the fields it has: a misspelt one is a 400 naming it, not a value silently left out.

DRF's fields also read what an HTML form sends, where every value is a string, and so take
`"5"` for 5, `0` or `"yes"` for false, `1.0` for an integer and `5` for the string "5". From
JSON that is a client's mistake, and the schema (the API's contract) says so: the API checks
the types of its JSON bodies first (type_errors), and the dashboard's forms keep DRF's reading.
"""

import json
import re

from rest_framework import serializers

# Field classes, most specific first, and the JSON types each takes (None: any).
_TYPES = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DecimalField, (int, float), "a number"),
    (serializers.ListField, (list,), "a list"),
    (serializers.ListSerializer, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
    (serializers.JSONField, None, ""),
    (serializers.BaseSerializer, (dict,), "an object"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.CharField, (str,), "a string"),
    (serializers.UUIDField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
)


def type_errors(serializer: serializers.Serializer, data) -> dict:
    """`{field: [message]}` for each value in `data` (a parsed JSON object) whose JSON type its
    field in `serializer` does not take, looking into nested objects and lists; `{}` if none.
    Values are checked no further: the serializer does that."""
    if not isinstance(data, dict):
        return {}
    errors, fields = {}, serializer.fields
    for name, value in data.items():
        field = fields.get(name)
        if field is not None and not field.read_only and (wrong := _wrong(field, value)):
            errors[name] = wrong
    return errors


def _wrong(field: serializers.Field, value):
    if value is None:
        return None if field.allow_null else [field.error_messages["null"]]
    types, name = next(((types, name) for kind, types, name in _TYPES if isinstance(field, kind)), (None, ""))
    if types is None:
        return None
    if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
        return [f"must be {name}"]
    if isinstance(field, serializers.Serializer):
        return type_errors(field, value) or None
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        items = {str(index): wrong for index, item in enumerate(value) if (wrong := _wrong(field.child, item))}
        return items or None
    if isinstance(field, serializers.DictField):
        items = {str(key): wrong for key, item in value.items() if (wrong := _wrong(field.child, item))}
        return items or None
    return None


def unknown_keys(serializer: serializers.Serializer, data) -> dict:
    """`{key: [message]}` for each key of `data` that is none of the serializer's fields."""
    if not isinstance(data, dict):
        return {}
    known = [name for name, field in serializer.fields.items() if not field.read_only]
    unknown = sorted(key for key in data if key not in known)
    message = f"unknown field; the fields are: {', '.join(known)}"
    return {key: [message] for key in unknown}


class JsonTyped:
    """A serializer of JSON bodies (a mixin, before serializers.Serializer): a key that is no
    field, and values whose type is not their field's, are refused before any is read. The
    OpenAPI schema says so (`additionalProperties: false`, bespin.lib.schema)."""

    strict = True

    def to_internal_value(self, data):
        if errors := unknown_keys(self, data) | self.type_errors(data):
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def type_errors(self, data) -> dict:
        return type_errors(self, data)


# U+0000 as json.dumps writes it: \u0000 after an even number of backslashes.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def unstorable(value) -> str | None:
    """Why PostgreSQL's jsonb cannot store `value` (a lone UTF-16 surrogate, which is not text,
    or U+0000, which jsonb refuses), or None when it can."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "it holds a lone UTF-16 surrogate, which is not text"
    except RecursionError:
        return "it nests too deep"
    if _NUL_ESCAPE.search(text):
        return "it holds \\u0000, which PostgreSQL's jsonb cannot store"
    return None
