"""Customer notifications (points earned, rewards, tiers, referrals, expiry, GDPR), sent
through the merchant's own Klaviyo or Postscript account.

We render the text ourselves (``message_rendering``), in the customer's language, so every
channel says the same thing: Klaviyo receives it as properties of an event that the
merchant's flow turns into an email, Postscript sends it as the SMS itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx
import orjson

from subgraphs.kit.integrations.http_retries import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    TransientResponseError,
    call_with_retries,
    raise_for_transient,
)
from subgraphs.kit.integrations.message_rendering import RenderedMessage

KLAVIYO_EVENTS_URL = "https://a.klaviyo.com/api/events"
# Create or Update Profile: an upsert by any identifier given (email, phone, external id).
KLAVIYO_PROFILE_IMPORT_URL = "https://a.klaviyo.com/api/profile-import"
# Request Profile Deletion (Data Privacy API): a GDPR deletion of every profile matching one
# identifier, carried out by Klaviyo asynchronously (it answers 202 Accepted).
KLAVIYO_DELETION_JOBS_URL = "https://a.klaviyo.com/api/data-privacy-deletion-jobs"
KLAVIYO_REVISION = "2024-10-15"
EXPIRY_METRIC = "LoyalNest Points Expiring"
POSTSCRIPT_MESSAGES_URL = "https://api.postscript.io/api/v2/message_requests"


@dataclass(frozen=True)
class Recipient:
    email: str | None
    phone: str | None
    locale: str
    external_id: str  # our customer id


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


def _profile_identifiers(recipient: Recipient) -> dict[str, Any]:
    """How Klaviyo finds (or makes) the recipient's profile: our id, their email and phone."""
    if not recipient.email and not recipient.phone:
        raise NotificationNotDeliverable("klaviyo needs an email or a phone number")
    identifiers: dict[str, Any] = {"external_id": recipient.external_id}
    if recipient.email:
        identifiers["email"] = recipient.email
    if recipient.phone:
        identifiers["phone_number"] = recipient.phone
    return identifiers


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
        await self.track(
            metric,
            _profile_identifiers(recipient),
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

    async def upsert_profile(self, recipient: Recipient, properties: dict[str, Any]) -> None:
        """Set ``properties`` (custom profile properties) on the customer's profile, made if
        Klaviyo has none: matched by external id (ours), email and phone. The same call twice
        sets the same values: safe to repeat."""
        attributes = {**_profile_identifiers(recipient), "properties": properties}
        body = orjson.dumps({"data": {"type": "profile", "attributes": attributes}})
        await deliver_with_retries(
            "klaviyo",
            lambda: self._http.post(
                KLAVIYO_PROFILE_IMPORT_URL, content=body, headers=self._headers
            ),
            self._retry,
        )

    async def request_profile_deletion(self, identifier: dict[str, str]) -> None:
        """Ask Klaviyo to delete (GDPR) every profile matching ``identifier``: exactly one of
        ``{"email": …}``, ``{"phone_number": …}`` or ``{"id": …}`` (Klaviyo refuses more).
        Retried on 429 and 5xx like every call; a refusal raises ``NotificationRejected``."""
        if len(identifier) != 1:
            raise ValueError("a Klaviyo deletion takes exactly one identifier")
        body = orjson.dumps(
            {
                "data": {
                    "type": "data-privacy-deletion-job",
                    "attributes": {
                        "profile": {"data": {"type": "profile", "attributes": identifier}}
                    },
                }
            }
        )
        await deliver_with_retries(
            "klaviyo",
            lambda: self._http.post(KLAVIYO_DELETION_JOBS_URL, content=body, headers=self._headers),
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
