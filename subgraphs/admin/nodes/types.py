"""The ``Node`` entity interface, and a stub of every type that implements it elsewhere.

Why this shape (Federation 2.3 entity interfaces): ``Query.node`` lives in one subgraph, but
the types it returns live in four. Here ``Node`` is ``@key(fields: "id")``, so the router may
take a ``{__typename, id}`` from this subgraph and fetch every other field of it from the
type's owner (``_entities``), whose ``resolve_reference`` checks the viewer's tenant and
permissions and answers null for another shop's row or a missing one. Composition requires
the subgraph declaring an entity interface to declare all of its implementations: the stubs
below (key only). A type added to ``Node`` in another subgraph must be stubbed here too, and
composition fails until it is (INTERFACE_KEY_MISSING_IMPLEMENTATION_TYPE).

The other subgraphs do not mention ``Node``: the supergraph's ``implements Node`` comes from
here, and their types only need to be entities with ``@key(fields: "id")``.
"""

from __future__ import annotations

import strawberry

from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION


@strawberry.federation.interface(
    keys=["id"],
    description="An object with a global ID: any of them can be refetched with `node(id:)` "
    "(or many at once with `nodes(ids:)`).",
)
class Node:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)


# Stubs of the implementations owned by other subgraphs: only the key, resolved by the owner.
# Their descriptions are the owners' (composition merges them; they should not disagree).
@strawberry.federation.type(keys=["id"], description="A shopper enrolled in the loyalty program.")
class Customer(Node):
    pass


@strawberry.federation.type(keys=["id"], description="One entry of a customer's points ledger.")
class PointsTransaction(Node):
    pass


@strawberry.federation.type(keys=["id"], description="Something customers can spend points on.")
class Reward(Node):
    pass


@strawberry.federation.type(
    keys=["id"], description="A reward a customer redeemed, and the discount code it gave."
)
class RewardRedemption(Node):
    pass


@strawberry.federation.type(
    keys=["id"],
    description="A time-boxed promotion: more points, a spend bonus or cheaper rewards.",
)
class BonusCampaign(Node):
    pass


@strawberry.federation.type(
    keys=["id"], description="A VIP tier: customers who meet its rules belong to it."
)
class VipTier(Node):
    pass


@strawberry.federation.type(
    keys=["id"], description="One notification sent, failed or skipped: the delivery log."
)
class NotificationDelivery(Node):
    pass


@strawberry.federation.type(
    keys=["id"], description="An import of customers and points balances from a CSV file."
)
class DataImport(Node):
    pass


@strawberry.federation.type(keys=["id"], description="A customer's shareable referral link.")
class ReferralLink(Node):
    pass


@strawberry.federation.type(keys=["id"], description="A friend an advocate brought to the shop.")
class Referral(Node):
    pass


# Type name in a global ID -> the stub ``node`` returns for it (the owner fills in the rest).
FOREIGN_NODE_TYPES: dict[str, type[Node]] = {
    stub.__name__: stub
    for stub in (
        Customer,
        PointsTransaction,
        Reward,
        RewardRedemption,
        BonusCampaign,
        VipTier,
        ReferralLink,
        Referral,
        NotificationDelivery,
        DataImport,
    )
}
