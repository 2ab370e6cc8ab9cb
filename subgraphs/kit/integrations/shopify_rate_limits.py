"""Where each merchant's Shopify API budget stands, and an alert when one is nearly spent.

The latest reading per merchant is kept in Redis so that any process can see it (a dashboard,
a job deciding whether to start a heavy sync now). It is only a window on the budget: a Redis
failure is logged and swallowed, because a lost reading costs nothing and a Shopify call failed
for its sake would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from subgraphs.kit.integrations.alerts import Alerter
from subgraphs.kit.integrations.shopify_admin import ThrottleCallback, ThrottleStatus

log = structlog.get_logger(__name__)


def throttle_key(merchant_id: str) -> str:
    return f"loyalnest:shopify:throttle:{merchant_id}"


def throttle_alert_key(merchant_id: str) -> str:
    return f"loyalnest:shopify:throttle-alert:{merchant_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RateLimitMonitor:
    def __init__(
        self,
        redis: Redis,
        alerter: Alerter | None = None,
        *,
        alert_at: float = 0.95,
        alert_window: timedelta = timedelta(minutes=15),
        ttl: timedelta = timedelta(days=1),
    ) -> None:
        self._redis = redis
        self._alerter = alerter
        self._alert_at = alert_at
        self._alert_window = alert_window
        self._ttl = ttl

    def on_throttle_for(
        self, merchant_id: str, *, shop_domain: str | None = None
    ) -> ThrottleCallback:
        """The ``on_throttle`` callback of a ShopifyAdminClient working for this merchant."""

        async def on_throttle(status: ThrottleStatus) -> None:
            await self.record(merchant_id, status, shop_domain=shop_domain)

        return on_throttle

    async def record(
        self, merchant_id: str, status: ThrottleStatus, *, shop_domain: str | None = None
    ) -> None:
        key = throttle_key(merchant_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={
                        "maximum_available": repr(status.maximum_available),
                        "currently_available": repr(status.currently_available),
                        "restore_rate": repr(status.restore_rate),
                        "observed_at": status.observed_at.isoformat(),
                    },
                )
                pipe.expire(key, self._ttl)
                await pipe.execute()
        except RedisError as exc:
            log.warning("throttle_status_not_stored", merchant_id=merchant_id, error=str(exc))
        if status.used_fraction >= self._alert_at:
            await self._alert(merchant_id, status, shop_domain)

    async def latest(self, merchant_id: str) -> ThrottleStatus | None:
        try:
            raw = await self._redis.hgetall(throttle_key(merchant_id))  # type: ignore[misc]
        except RedisError as exc:
            log.warning("throttle_status_unavailable", merchant_id=merchant_id, error=str(exc))
            return None
        if not raw:
            return None
        fields = {_text(name): _text(value) for name, value in raw.items()}
        try:
            return ThrottleStatus(
                maximum_available=float(fields["maximum_available"]),
                currently_available=float(fields["currently_available"]),
                restore_rate=float(fields["restore_rate"]),
                observed_at=datetime.fromisoformat(fields["observed_at"]),
            )
        except (KeyError, ValueError) as exc:
            log.warning("throttle_status_unreadable", merchant_id=merchant_id, error=str(exc))
            return None

    async def _alert(
        self, merchant_id: str, status: ThrottleStatus, shop_domain: str | None
    ) -> None:
        if self._alerter is None:
            return
        key = throttle_alert_key(merchant_id)
        try:
            # One alert per window however many calls see the budget nearly spent; if Redis
            # cannot tell whether we already alerted, staying quiet beats one alert per call.
            first = await self._redis.set(
                key, status.observed_at.isoformat(), nx=True, ex=self._alert_window
            )
        except RedisError as exc:
            log.warning("throttle_alert_skipped", merchant_id=merchant_id, error=str(exc))
            return
        if not first:
            return
        who = (
            f"{shop_domain} (merchant {merchant_id})" if shop_domain else f"merchant {merchant_id}"
        )
        text = (
            f":warning: Shopify API budget of {who} is {status.used_fraction:.0%} used: "
            f"{status.currently_available:g} of {status.maximum_available:g} points left, "
            f"refilling {status.restore_rate:g}/s."
        )
        try:
            await self._alerter.send(text)
        except Exception:
            log.exception("throttle_alert_failed", merchant_id=merchant_id)
            # Free the window so the next reading tries again.
            try:
                await self._redis.delete(key)
            except RedisError as exc:
                log.warning("throttle_alert_window_kept", merchant_id=merchant_id, error=str(exc))
