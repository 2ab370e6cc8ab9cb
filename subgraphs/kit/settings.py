"""Settings, read from the environment (and ``.env``) by pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from limits import parse
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets. `loyalnest dev` replaces the encryption keys with ones generated
# into the data directory; production must set every secret (see Settings.check_production).
DEV_APP_SECRET = "loyalnest-dev-app-secret"  # noqa: S105
DEV_API_KEY = "loyalnest-dev-api-key"
DEV_TOKEN_SECRET = "loyalnest-dev-customer-token-secret"  # noqa: S105
DEV_STAFF_TOKEN_SECRET = "loyalnest-dev-staff-token-secret"  # noqa: S105
DEV_APP_URL = "http://127.0.0.1:4105"  # the edge app (gateway/edge/app.py)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", alias="LOYALNEST_ENV")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    # Longest wait for one cache or pub/sub call: past it, a read is a cache miss and an event
    # is dropped (Redis is never the only copy of anything).
    redis_call_timeout_seconds: float = Field(0.1, alias="LOYALNEST_REDIS_CALL_TIMEOUT_SECONDS")
    data_dir: Path = Field(Path(".loyalnest"), alias="LOYALNEST_DATA_DIR")

    # Shopify app credentials: the API key is the session token's `aud`, the secret signs it.
    shopify_api_key: str = Field(DEV_API_KEY, alias="SHOPIFY_API_KEY")
    shopify_api_secret: str = Field(DEV_APP_SECRET, alias="SHOPIFY_API_SECRET")

    # Our own tokens, each kind with its own secret so one leaked secret mints one kind only.
    # Customer tokens (storefront, exchanged at the app proxy) are signed with this one.
    token_secret: str = Field(DEV_TOKEN_SECRET, alias="LOYALNEST_TOKEN_SECRET")
    # Staff tokens (LoyalNest's own staff). HS256 with a shared secret keeps local use simple;
    # in production the IdP would sign them (RS256, keys from its JWKS) and only verify here.
    staff_token_secret: str = Field(DEV_STAFF_TOKEN_SECRET, alias="LOYALNEST_STAFF_TOKEN_SECRET")
    # Shopify OAuth: what the app asks for at install, and where Shopify sends the merchant
    # back (the public URL serving gateway/auth; the callback is {app_url}/auth/callback).
    shopify_scopes: str = Field(
        "read_customers,read_orders,write_discounts", alias="SHOPIFY_SCOPES"
    )
    app_url: str = Field(DEV_APP_URL, alias="LOYALNEST_APP_URL")
    # Where a merchant referral link sends the referred merchant to install the app (the app's
    # Shopify App Store listing).
    app_listing_url: str = Field(
        "https://apps.shopify.com/loyalnest", alias="LOYALNEST_APP_LISTING_URL"
    )

    # "kid:base64key,kid2:base64key" — the first key encrypts, all keys decrypt.
    encryption_keys: str | None = Field(None, alias="LOYALNEST_ENCRYPTION_KEYS")
    blind_index_key: str | None = Field(None, alias="LOYALNEST_BLIND_INDEX_KEY")

    host: str = Field("127.0.0.1", alias="LOYALNEST_HOST")
    db_pool_size: int = Field(10, alias="LOYALNEST_DB_POOL_SIZE")
    storefront_url_template: str = Field(
        "https://{shop}/apps/loyalnest/r/{code}", alias="LOYALNEST_REFERRAL_URL_TEMPLATE"
    )
    log_level: str = Field("INFO", alias="LOYALNEST_LOG_LEVEL")
    # Incoming webhook for operational alerts (e.g. a shop's Shopify API budget nearly spent).
    slack_webhook_url: str | None = Field(None, alias="LOYALNEST_SLACK_WEBHOOK_URL")

    # The Shopify webhook shim (gateway/webhooks): the largest body accepted, and how the
    # worker's sweeper finds deliveries whose job was lost (Redis down, a worker killed).
    webhook_max_body_bytes: int = Field(2 * 1024 * 1024, alias="LOYALNEST_WEBHOOK_MAX_BODY_BYTES")
    inbox_sweep_every_seconds: int = Field(30, alias="LOYALNEST_INBOX_SWEEP_EVERY_SECONDS")
    inbox_sweep_grace_seconds: float = Field(60.0, alias="LOYALNEST_INBOX_SWEEP_GRACE_SECONDS")
    webhook_job_timeout_seconds: int = Field(60, alias="LOYALNEST_WEBHOOK_JOB_TIMEOUT_SECONDS")
    # How often the worker pays due referral rewards (a friend's at once, an advocate's once
    # the hold is over): at most a minute; end-to-end tests make it a second.
    referral_payout_every_seconds: int = Field(
        60, alias="LOYALNEST_REFERRAL_PAYOUT_EVERY_SECONDS", ge=1, le=60
    )
    # How often the worker sweeps every merchant's notification flows for a lost nudge, in
    # minutes (0: never; tests that start a worker for other work turn it off).
    notification_flows_sweep_minutes: int = Field(
        5, alias="LOYALNEST_NOTIFICATION_FLOWS_SWEEP_MINUTES", ge=0, le=30
    )
    # Whether the worker sweeps for GDPR exports and provider profile deletions a lost job left
    # behind (off only for workers that tests start for other work: the suite's database holds
    # other tests' unfinished requests, whose jobs would call providers this machine cannot
    # reach and fill the worker's job slots).
    gdpr_sweeps: bool = Field(True, alias="LOYALNEST_GDPR_SWEEPS")
    # The worker's Prometheus /metrics (queue delay, batch sizes), on LOYALNEST_HOST; unset, it
    # serves none (tests run workers side by side). `loyalnest dev` and compose set it.
    worker_metrics_port: int | None = Field(None, alias="LOYALNEST_WORKER_METRICS_PORT")

    # Rate limits of the edge app, in the `limits` notation ("<n>/<second|minute|hour>"),
    # counted in Redis over a moving window (kit/rate_limits.py); the router's own limits are
    # in router.yaml. Sized for a real shop: Shopify bursts webhooks (a bulk order import) and
    # retries a 429 later, so the per-shop limit is generous; the storefront's app proxy comes
    # from Shopify's own servers, so many customers share an IP. Behind a load balancer, run
    # uvicorn with --forwarded-allow-ips so the client's IP is the one counted.
    # Off (LOYALNEST_RATE_LIMITS_ENABLED=false) for benchmarks that flood on purpose.
    rate_limits_enabled: bool = Field(True, alias="LOYALNEST_RATE_LIMITS_ENABLED")
    # Signed webhook deliveries per shop; past it, 429 and nothing is stored (Shopify retries).
    webhook_rate_limit: str = Field("1200/minute", alias="LOYALNEST_WEBHOOK_RATE_LIMIT")
    # Wrongly signed webhook posts per IP; past it, that IP is answered 429 instead of 401.
    webhook_bad_signature_rate_limit: str = Field(
        "100/minute", alias="LOYALNEST_WEBHOOK_BAD_SIGNATURE_RATE_LIMIT"
    )
    # App-proxy token exchanges (GET /proxy/token) per IP.
    proxy_token_rate_limit: str = Field("300/minute", alias="LOYALNEST_PROXY_TOKEN_RATE_LIMIT")
    # OAuth install and callback requests (/auth/*) per IP.
    oauth_rate_limit: str = Field("60/minute", alias="LOYALNEST_OAUTH_RATE_LIMIT")
    # Referral link clicks counted per visitor IP; past it the visitor still reaches the shop,
    # the click is only not counted (a flood cannot inflate a link's clicks).
    referral_click_rate_limit: str = Field("60/minute", alias="LOYALNEST_REFERRAL_CLICK_RATE_LIMIT")
    # Shares of their link an advocate may send in any 24 hours (referralShare), all channels.
    referral_shares_per_day: int = Field(10, alias="LOYALNEST_REFERRAL_SHARES_PER_DAY", ge=1)
    # LoyalNest's Twilio account, the sender of WhatsApp shares; unset: WhatsApp shares fail
    # with that reason.
    twilio_account_sid: str | None = Field(None, alias="LOYALNEST_TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(None, alias="LOYALNEST_TWILIO_AUTH_TOKEN")
    twilio_whatsapp_from: str | None = Field(None, alias="LOYALNEST_TWILIO_WHATSAPP_FROM")

    # Largest static cost of one GraphQL operation a subgraph runs (kit/graphql/cost.py): each
    # list costs its page size, multiplied through nesting, so this is about the most rows one
    # request may ask for. A dashboard's 50 customers with 50 transactions each (5,050) fits;
    # a full page of 100 inside a full page of 100 (10,100) does not. The router reads the
    # same variable for its own check (router.yaml limits.maxCost).
    query_cost_budget: int = Field(10_000, alias="LOYALNEST_QUERY_COST_BUDGET", ge=1)

    @field_validator(
        "webhook_rate_limit",
        "webhook_bad_signature_rate_limit",
        "proxy_token_rate_limit",
        "oauth_rate_limit",
        "referral_click_rate_limit",
    )
    @classmethod
    def _is_a_rate_limit(cls, value: str) -> str:
        parse(value)  # a typo fails at startup, not at the first request
        return value

    def check_production(self) -> None:
        if self.environment != "production":
            return
        missing = [
            name
            for name, value in {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "LOYALNEST_ENCRYPTION_KEYS": self.encryption_keys,
                "LOYALNEST_BLIND_INDEX_KEY": self.blind_index_key,
            }.items()
            if not value
        ]
        if self.shopify_api_secret == DEV_APP_SECRET:
            missing.append("SHOPIFY_API_SECRET")
        if self.token_secret == DEV_TOKEN_SECRET:
            missing.append("LOYALNEST_TOKEN_SECRET")
        if self.staff_token_secret == DEV_STAFF_TOKEN_SECRET:
            missing.append("LOYALNEST_STAFF_TOKEN_SECRET")
        if self.app_url == DEV_APP_URL:
            missing.append("LOYALNEST_APP_URL")
        if missing:
            raise RuntimeError(f"production requires: {', '.join(missing)}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
