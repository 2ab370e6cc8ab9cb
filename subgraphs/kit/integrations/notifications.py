"""Customer notifications (points earned, rewards, tiers, referrals, expiry, GDPR), sent
through the merchant's own Klaviyo or Postscript account.

We render the text ourselves, in the customer's language, so every channel says the same
thing: Klaviyo receives it as properties of an event that the merchant's flow turns into an
email, Postscript sends it as the SMS itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx
import jinja2
import orjson
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from subgraphs.kit.integrations.http_retries import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    TransientResponseError,
    call_with_retries,
    raise_for_transient,
)
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

KLAVIYO_EVENTS_URL = "https://a.klaviyo.com/api/events"
KLAVIYO_REVISION = "2024-10-15"
EXPIRY_METRIC = "LoyalNest Points Expiring"
POSTSCRIPT_MESSAGES_URL = "https://api.postscript.io/api/v2/message_requests"

# Unicode isolates keep a Latin shop name or a number from reordering the words around it
# when the sentence is right-to-left.
_FIRST_STRONG_ISOLATE = "\u2068"
_POP_DIRECTIONAL_ISOLATE = "\u2069"


@dataclass(frozen=True)
class Recipient:
    email: str | None
    phone: str | None
    locale: str
    external_id: str  # our customer id


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
    return {
        name: f"{_FIRST_STRONG_ISOLATE}{value}{_POP_DIRECTIONAL_ISOLATE}"
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


class NotificationError(Exception):
    """A notification was not sent."""


class NotificationNotDeliverable(NotificationError):
    """The recipient has no address on this channel (e.g. no phone for an SMS)."""


class NotificationRejected(NotificationError):
    """The provider refused the request (4xx other than 429); the same request would be
    refused again."""

    def __init__(self, provider: str, status_code: int, detail: str) -> None:
        super().__init__(f"{provider} refused the notification: {status_code} {detail}")
        self.provider = provider
        self.status_code = status_code


class NotificationUnavailable(NotificationError):
    """The provider could not be reached or stayed unwell through every retry."""


class NotificationClient(Protocol):
    async def send_expiry_reminder(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        points: int,
        expires_on: date,
        event_id: str | None = None,
    ) -> None: ...

    async def send_message(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        metric: str,
        event_id: str,
        properties: dict[str, Any] | None = None,
    ) -> None: ...


def dedupe_key(event_id: str | None, *parts: str) -> str:
    """The provider's dedupe key of one message: the id of the event it tells about (the same
    on every retry and every resend after a crash, so the provider drops the duplicate). With
    no event id, a digest of what identifies the message (``parts``) is just as stable."""
    if event_id is not None:
        return event_id
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


async def deliver_with_retries(
    provider: str, request: Callable[[], Awaitable[httpx.Response]], retry: RetryPolicy
) -> httpx.Response:
    async def attempt() -> httpx.Response:
        return raise_for_transient(await request())

    try:
        response = await call_with_retries(attempt, retry)
    except (TransientResponseError, httpx.TransportError) as exc:
        raise NotificationUnavailable(f"{provider} unavailable: {exc!r}") from exc
    if response.is_error:
        raise NotificationRejected(provider, response.status_code, response.text[:500])
    return response


class _SendsExpiryReminders:
    """``send_expiry_reminder`` as one ``send_message`` of the expiry metric, for both
    providers (Postscript sends only the text)."""

    async def send_message(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        metric: str,
        event_id: str,
        properties: dict[str, Any] | None = None,
    ) -> None:
        raise NotImplementedError

    async def send_expiry_reminder(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        points: int,
        expires_on: date,
        event_id: str | None = None,
    ) -> None:
        await self.send_message(
            recipient,
            message,
            metric=EXPIRY_METRIC,
            # Same id on every retry and resend: if a timed-out request did land, Klaviyo
            # drops the duplicate instead of mailing twice.
            event_id=dedupe_key(event_id, "expiry", recipient.external_id, expires_on.isoformat()),
            properties={"points": points, "expires_on": expires_on.isoformat()},
        )


class KlaviyoClient(_SendsExpiryReminders):
    """Records a "LoyalNest Points Expiring" event on the customer's Klaviyo profile; the
    merchant's Klaviyo flow on that metric sends the message."""

    def __init__(
        self, http: httpx.AsyncClient, api_key: str, *, retry: RetryPolicy = DEFAULT_RETRY_POLICY
    ) -> None:
        self._http = http
        self._headers = {
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": KLAVIYO_REVISION,
            "accept": "application/vnd.api+json",
            "content-type": "application/vnd.api+json",
        }
        self._retry = retry

    async def send_message(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        metric: str,
        event_id: str,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """Record a ``metric`` event carrying the rendered text; ``event_id`` is Klaviyo's
        ``unique_id``, so the same event sent twice is one message."""
        if not recipient.email and not recipient.phone:
            raise NotificationNotDeliverable("klaviyo needs an email or a phone number")
        profile: dict[str, Any] = {"external_id": recipient.external_id}
        if recipient.email:
            profile["email"] = recipient.email
        if recipient.phone:
            profile["phone_number"] = recipient.phone
        await self.track(
            metric,
            profile,
            {
                **(properties or {}),
                "subject": message.subject,
                "body": message.body,
                "locale": message.locale,
                "rtl": message.rtl,
            },
            unique_id=event_id,
        )

    async def track(
        self,
        metric: str,
        profile: dict[str, Any],
        properties: dict[str, Any],
        *,
        unique_id: str,
    ) -> None:
        """Record a ``metric`` event on the profile (the merchant's flow on it sends the
        message). ``unique_id`` is Klaviyo's deduplication key: the same one sent again (a
        retry, a job run twice) records nothing more."""
        body = orjson.dumps(
            {
                "data": {
                    "type": "event",
                    "attributes": {
                        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                        "profile": {"data": {"type": "profile", "attributes": profile}},
                        "properties": properties,
                        "unique_id": unique_id,
                    },
                }
            }
        )
        await deliver_with_retries(
            "klaviyo",
            lambda: self._http.post(KLAVIYO_EVENTS_URL, content=body, headers=self._headers),
            self._retry,
        )


class PostscriptClient(_SendsExpiryReminders):
    """Sends the rendered body as an SMS to the customer's phone."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        *,
        category: str = "promotional",
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {api_key}", "accept": "application/json"}
        self._category = category
        self._retry = retry

    async def send_message(
        self,
        recipient: Recipient,
        message: RenderedMessage,
        *,
        metric: str,
        event_id: str,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """Text the rendered body to the customer's phone (``metric`` and ``properties`` are
        Klaviyo's; an SMS is only its body)."""
        if not recipient.phone:
            raise NotificationNotDeliverable("an SMS needs a phone number")
        await self.send_sms(recipient.phone, message.body)

    async def send_sms(self, phone: str, body: str) -> None:
        payload = {"phone": phone, "body": body, "category": self._category}
        await deliver_with_retries(
            "postscript",
            lambda: self._http.post(POSTSCRIPT_MESSAGES_URL, json=payload, headers=self._headers),
            self._retry,
        )
