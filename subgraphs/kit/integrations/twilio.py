"""WhatsApp messages through Twilio's Messages API, sent from LoyalNest's own Twilio number,
retried as every third-party call is (``http_retries``)."""

from __future__ import annotations

import httpx

from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notifications import deliver_with_retries

TWILIO_API = "https://api.twilio.com/2010-04-01"


def twilio_messages_url(account_sid: str) -> str:
    return f"{TWILIO_API}/Accounts/{account_sid}/Messages.json"


class TwilioWhatsAppClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self._http = http
        self._url = twilio_messages_url(account_sid)
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._from = from_number
        self._retry = retry

    async def send(self, to: str, body: str) -> None:
        """``to`` in E.164 (+15551234567). Twilio documents no idempotency key for messages:
        callers make sure a message is sent once (``worker/referrals/shares.py``)."""
        form = {"To": f"whatsapp:{to}", "From": f"whatsapp:{self._from}", "Body": body}
        await deliver_with_retries(
            "twilio",
            lambda: self._http.post(self._url, data=form, auth=self._auth),
            self._retry,
        )
