"""What no text from outside may hold, wherever it comes from (GraphQL input, cursors,
webhook payloads): the one definition, so every boundary refuses the same thing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def string_refusal(text: str) -> str | None:
    """Why a string cannot be taken, or None. NUL: Postgres text and jsonb cannot hold it. A
    lone surrogate: not a character at all, so it has no UTF-8 encoding."""
    if "\x00" in text:
        return "must not contain a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate (not a Unicode character)"
    return None


def unstorable_strings(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, reason) of every string in a JSON-like value that cannot be stored, keys
    included; paths are dotted (``customer.id``, ``line_items.0.title``)."""
    if isinstance(value, str):
        if (reason := string_refusal(value)) is not None:
            yield path, reason
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := string_refusal(key)) is not None:
                yield child, f"key {reason}"
            yield from unstorable_strings(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from unstorable_strings(item, f"{path}.{index}" if path else str(index))


def error_location(error: ErrorDetails, whole: str = "") -> str:
    """Where a pydantic validation error points, as a dotted path (``earning.signup``,
    ``line_items.0.price``); ``whole`` when it is about the whole value (an empty location)."""
    return ".".join(str(part) for part in error["loc"]) or whole


def validation_problems(error: ValidationError, *, whole: str = "", most: int = 5) -> str:
    """The first ``most`` problems of a payload that did not validate, as ``where: what; ...``.
    Locations and messages only: ``errors()`` carries the input values too, and a payload
    (a webhook's, a GDPR request's) may hold personal data that must not reach a log."""
    return "; ".join(
        f"{error_location(problem, whole)}: {problem['msg']}" for problem in error.errors()[:most]
    )
