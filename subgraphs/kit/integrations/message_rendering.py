"""Customer messages rendered in the customer's language: the templates' checks, the
closest locale, and the text every channel sends the same (Klaviyo as an event's
properties, Postscript as the SMS itself). No provider here: see ``notifications``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from subgraphs.kit.integrations.notification_templates import (
    DEFAULT_LOCALE,
    EXPIRY_REMINDER,
    LOCALE_ALIASES,
    MESSAGE_TEMPLATES,
    PLACEHOLDERS,
    RTL_LOCALES,
    SAMPLE_VALUES,
    SUPPORTED_LOCALES,
    Template,
)

# Unicode isolates keep a Latin shop name or a number from reordering the words around it
# when the sentence is right-to-left.
_FIRST_STRONG_ISOLATE = "\u2068"
_POP_DIRECTIONAL_ISOLATE = "\u2069"


@dataclass(frozen=True)
class RenderedMessage:
    locale: str
    subject: str
    body: str
    rtl: bool


def closest_language(locale: str, languages: Collection[str]) -> str:
    """The language among ``languages`` closest to a shopper's ``locale`` ("fr-CA" -> "fr",
    the old "iw" -> "he"), else English: what every localized text picks its language by."""
    language = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    language = LOCALE_ALIASES.get(language, language)
    return language if language in languages else DEFAULT_LOCALE


def render_expiry_reminder(
    locale: str, *, points: int, points_name: str, expires_on: date, shop_name: str
) -> RenderedMessage:
    language = closest_language(locale, EXPIRY_REMINDER)
    template = EXPIRY_REMINDER[language]
    rtl = language in RTL_LOCALES
    # Plain digits and ISO dates: unambiguous in every language, and no locale data needed.
    values = {
        "points": str(points),
        "points_name": points_name,
        "expires_on": expires_on.isoformat(),
        "shop_name": shop_name,
    }
    values = _isolated(values, rtl)
    return RenderedMessage(
        locale=language,
        subject=template.subject.format(**values),
        body=template.body.format(**values),
        rtl=rtl,
    )


# --- templates of every message type (Jinja, sandboxed) ------------------------------------

# One environment for the process: a sandbox (no attribute of a value, no Python object is
# reachable from a template), undefined names fail instead of printing nothing, plain text.
_JINJA = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@dataclass(frozen=True)
class TemplateProblem:
    """Why a template is refused: ``part`` is "subject" or "body"; ``code`` one of
    INVALID_TEMPLATE, MISSING_PLACEHOLDER, UNKNOWN_PLACEHOLDER."""

    part: str
    code: str
    message: str


def template_problems(message_type: str, template: Template) -> list[TemplateProblem]:
    """Everything wrong with a template of ``message_type``: a syntax error, a placeholder the
    type does not provide, or (subject and body together) a required one never used."""
    placeholders = PLACEHOLDERS[message_type]
    problems: list[TemplateProblem] = []
    used: set[str] = set()
    for part, source in (("subject", template.subject), ("body", template.body)):
        try:
            names = meta.find_undeclared_variables(_JINJA.parse(source))
        except jinja2.TemplateSyntaxError as error:
            problems.append(
                TemplateProblem(part, "INVALID_TEMPLATE", f"{part}: line {error.lineno}: {error}")
            )
            continue
        used |= names
        try:
            # Rendered too: what parses may still be refused by the sandbox (an attribute
            # of a value, say) or fail on a sample value.
            _render(source, {name: SAMPLE_VALUES.get(name, "x") for name in names})
        except jinja2.TemplateError as error:
            problems.append(TemplateProblem(part, "INVALID_TEMPLATE", f"{part}: {error}"))
            continue
        unknown = sorted(names - placeholders.allowed)
        if unknown:
            problems.append(
                TemplateProblem(
                    part,
                    "UNKNOWN_PLACEHOLDER",
                    f"{part}: unknown placeholder {', '.join(unknown)}; "
                    f"{message_type} has {', '.join(sorted(placeholders.allowed))}",
                )
            )
    missing = sorted(placeholders.required - used)
    if missing and not any(problem.code == "INVALID_TEMPLATE" for problem in problems):
        problems.append(
            TemplateProblem(
                "body", "MISSING_PLACEHOLDER", f"missing placeholder {', '.join(missing)}"
            )
        )
    return problems


def _isolated(values: dict[str, str], rtl: bool) -> dict[str, str]:
    """Right-to-left text gets each value in Unicode isolates (see ``_FIRST_STRONG_ISOLATE``)."""
    if not rtl:
        return values
    # An empty value stays empty: a template's ``{% if code %}`` must see it so.
    return {
        name: f"{_FIRST_STRONG_ISOLATE}{value}{_POP_DIRECTIONAL_ISOLATE}" if value else value
        for name, value in values.items()
    }


def _render(source: str, values: dict[str, str]) -> str:
    return _JINJA.from_string(source).render(values)


def supported_locale(locale: str) -> str:
    """The supported language closest to ``locale`` among every message type's locales."""
    return closest_language(locale, SUPPORTED_LOCALES)


def render_message(
    message_type: str,
    locale: str,
    values: dict[str, str],
    *,
    template: Template | None = None,
) -> RenderedMessage:
    """``template`` (the merchant's own, already validated) or the built-in text of
    ``message_type`` in the closest supported language, filled with ``values``; right-to-left
    languages are flagged and their values isolated."""
    language = supported_locale(locale)
    chosen = template or MESSAGE_TEMPLATES[message_type][language]
    rtl = language in RTL_LOCALES
    filled = _isolated(values, rtl)
    return RenderedMessage(
        locale=language,
        subject=_render(chosen.subject, filled),
        body=_render(chosen.body, filled),
        rtl=rtl,
    )
