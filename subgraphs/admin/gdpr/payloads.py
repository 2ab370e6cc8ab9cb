"""The payloads of Shopify's GDPR webhooks, parsed once at the door: a payload that is not what
Shopify sends for its topic raises ``GdprPayloadError``, naming the fields at fault but never
quoting their values (personal data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from subgraphs.admin.gdpr.service import GdprPayloadError
from subgraphs.kit.validation import validation_problems


def _shopify_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise ValueError("must be a positive integer id")


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip() or None


ShopifyId = Annotated[str, BeforeValidator(_shopify_id)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GdprCustomer(_Payload):
    id: ShopifyId | None = None
    email: OptionalText = None
    phone: OptionalText = None

    @model_validator(mode="after")
    def _identified(self) -> GdprCustomer:
        if self.id is None and self.email is None:
            raise ValueError("needs an id or an email")
        return self

    @property
    def normalized_email(self) -> str | None:
        """The lookup form (as the points subgraph stores it), or None if it is no email."""
        if self.email is None:
            return None
        normalized = self.email.lower()
        if "@" not in normalized or len(normalized) > 320 or "\x00" in normalized:
            return None
        return normalized


def _required_domain(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the shop's myshopify.com domain")
    return value.strip().lower()


class _ShopPayload(_Payload):
    shop_id: int | None = None
    shop_domain: Annotated[str, BeforeValidator(_required_domain)]


PayloadT = TypeVar("PayloadT", bound=_Payload)


class DataRequestRef(_Payload):
    id: ShopifyId | None = None


class CustomerDataRequestPayload(_ShopPayload):
    customer: GdprCustomer
    orders_requested: list[ShopifyId] = Field(default_factory=list)
    data_request: DataRequestRef | None = None


class CustomerRedactPayload(_ShopPayload):
    customer: GdprCustomer
    orders_to_redact: list[ShopifyId] = Field(default_factory=list)


class ShopRedactPayload(_ShopPayload):
    pass


def parse_payload(model: type[PayloadT], payload: Mapping[str, Any]) -> PayloadT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = validation_problems(exc, whole="payload")
        raise GdprPayloadError(f"not a valid {model.__name__}: {problems}") from None
