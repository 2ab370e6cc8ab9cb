"""The shape of a request's DataLoaders: every batch runs in one unit of work of the viewer's
merchant (row-level security on), and answers one value per key, in the keys' order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")
ArgumentT = TypeVar("ArgumentT", bound=Hashable)


class _Row(Protocol):
    @property
    def id(self) -> str: ...


RowT = TypeVar("RowT", bound=_Row)


class _RowsById(Protocol[RowT]):
    """A repository that finds its table's rows by id (``TenantRepository.get_by_ids``)."""

    def get_by_ids(self, row_ids: Collection[str]) -> Awaitable[list[RowT]]: ...


def tenant_loader(
    resources: Resources,
    merchant_id: str,
    load: Callable[[AsyncSession, Sequence[KeyT]], Awaitable[list[ValueT]]],
) -> DataLoader[KeyT, ValueT]:
    """A DataLoader whose batches each call ``load`` in their own tenant unit of work."""

    async def load_batch(keys: Sequence[KeyT]) -> list[ValueT]:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return await load(session, keys)

    return DataLoader(load_fn=load_batch)


def in_key_order(
    rows: Iterable[ValueT], keys: Sequence[KeyT], *, key: Callable[[ValueT], KeyT]
) -> list[ValueT | None]:
    """The rows found for a batch, one per key in the keys' order; None where none was."""
    by_key = {key(row): row for row in rows}
    return [by_key.get(wanted) for wanted in keys]


def by_id_loader(
    resources: Resources,
    merchant_id: str,
    fetch: Callable[[AsyncSession, Sequence[str]], Awaitable[Iterable[RowT]]],
) -> DataLoader[str, RowT | None]:
    """Rows by their id (``fetch`` finds those among the ids, in any order, in one statement):
    what a refetch by global ID needs, so that ``nodes(ids:)`` is one statement per type."""

    async def load(session: AsyncSession, ids: Sequence[str]) -> list[RowT | None]:
        return in_key_order(await fetch(session, ids), ids, key=lambda row: row.id)

    return tenant_loader(resources, merchant_id, load)


def repository_by_id_loader(
    resources: Resources,
    merchant_id: str,
    repository: Callable[[AsyncSession, str], _RowsById[RowT]],
) -> DataLoader[str, RowT | None]:
    """``by_id_loader`` over the rows of the table a ``TenantRepository`` owns, found with its
    ``get_by_ids`` (e.g. ``repository_by_id_loader(resources, merchant_id, LedgerRepository)``)."""
    return by_id_loader(
        resources,
        merchant_id,
        lambda session, ids: repository(session, merchant_id).get_by_ids(ids),
    )


# One statement for many owners (customers, say) sharing an argument: owner id -> value.
PerOwner = Callable[[AsyncSession, list[str], ArgumentT], Awaitable[dict[str, ValueT]]]


def per_owner_loader(
    resources: Resources, merchant_id: str, load: PerOwner[ArgumentT, ValueT]
) -> DataLoader[tuple[str, ArgumentT], ValueT]:
    """Keys (owner id, argument), e.g. (customer id, page request): one ``load`` per distinct
    argument, all in one tenant unit of work, so a page of customers each asking for their
    first 10 transactions is one statement."""

    async def load_batch(keys: Sequence[tuple[str, ArgumentT]]) -> list[ValueT]:
        by_argument: dict[ArgumentT, list[str]] = {}
        for owner_id, argument in keys:
            by_argument.setdefault(argument, []).append(owner_id)
        found: dict[tuple[str, ArgumentT], ValueT] = {}
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            for argument, owner_ids in by_argument.items():
                values = await load(session, owner_ids, argument)
                found.update(((owner_id, argument), value) for owner_id, value in values.items())
        return [found[key] for key in keys]

    return DataLoader(load_fn=load_batch)
