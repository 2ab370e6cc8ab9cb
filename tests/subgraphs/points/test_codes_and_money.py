"""Currencies and countries are ISO enums (every value described); money is one Money type;
codes that are not ISO are BAD_USER_INPUT before any rule runs."""

from __future__ import annotations

import pycountry
from graphql import GraphQLEnumType

from subgraphs.kit.resources import Resources
from subgraphs.points.program.calculation import REGIONS
from subgraphs.points.schema import schema
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.points.test_order_points import EARN, SETTINGS, order
from tests.subgraphs.points.test_points_adjust import ledger_state


def enum_values(name: str) -> dict[str, str | None]:
    enum_type = schema._schema.get_type(name)
    assert isinstance(enum_type, GraphQLEnumType)
    return {code: value.description for code, value in enum_type.values.items()}


def test_currency_and_country_codes_are_iso_and_described() -> None:
    currencies = enum_values("CurrencyCode")
    countries = enum_values("CountryCode")

    assert set(currencies) == {currency.alpha_3 for currency in pycountry.currencies}
    assert set(countries) == {country.alpha_2 for country in pycountry.countries}
    assert currencies["USD"] == "US Dollar"
    assert countries["GB"] == "United Kingdom"
    assert all(currencies.values())
    assert all(countries.values())


async def test_goal_spend_threshold_is_money_in_the_shop_currency(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await points_client.execute(
        SETTINGS,
        {"input": {"earning": {"goalSpend": {"threshold": "100", "points": 200}}}},
        tenant=tenant,
    )

    payload = result["data"]["programSettingsUpdate"]
    assert payload["userErrors"] == []
    assert payload["programSettings"]["earning"]["goalSpend"] == {
        "threshold": {"amount": "100", "currencyCode": "USD"},
        "points": 200,
    }


async def test_codes_that_are_not_iso_are_bad_user_input_and_earn_nothing(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    attempts = [
        order("7001", "10.00", currency="XYZ"),
        order("7002", "10.00", currency="usd"),
        order("7003", "10.00", countryCode="EU"),  # a region, not a country
        order("7004", "10.00", countryCode="ZZ"),
    ]
    for key, attempt in enumerate(attempts):
        result = await points_client.execute(
            EARN,
            {
                "input": {
                    "customerId": gid("Customer", customer_id),
                    "order": attempt,
                    "idempotencyKey": f"k{key}",
                }
            },
            tenant=tenant,
        )
        assert result["data"] is None, result
        assert [error["extensions"]["code"] for error in result["errors"]] == ["BAD_USER_INPUT"]
    rates = await points_client.execute(
        SETTINGS,
        {"input": {"currencyRates": [{"currencyCode": "EURO", "rate": "0.9"}]}},
        tenant=tenant,
    )
    assert rates["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    assert await ledger_state(resources, tenant, customer_id) == (0, 0, 0)


def test_regions_are_the_calculations_regions_and_no_country() -> None:
    regions = enum_values("Region")

    assert set(regions) == set(REGIONS)
    assert all(regions.values())
    assert not set(regions) & set(enum_values("CountryCode"))
