"""Work to do once a session's transaction has committed (publishing a live event), for code
that runs inside a unit of work it does not own (a webhook handler in the worker's delivery
transaction): registered on the session, run after its commit, forgotten on its rollback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

log = structlog.get_logger(__name__)

Action = Callable[[], Awaitable[None]]
_PENDING = "after_commit_actions"
# Tasks started after a commit, kept until done (the loop holds only weak references).
_running: set[asyncio.Task[None]] = set()


def after_commit(session: AsyncSession, action: Action) -> None:
    """Run ``action`` (best effort, in the background: it must not fail the write) once the
    session's current transaction commits; never if it rolls back."""
    sync = session.sync_session
    pending: list[Action] | None = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = []
        event.listen(sync, "after_commit", _run_pending)
        event.listen(sync, "after_transaction_end", _forget_pending)
    pending.append(action)


def _take(session: Session) -> list[Action]:
    actions: list[Action] = session.info.get(_PENDING) or []
    session.info[_PENDING] = []
    return actions


def _run_pending(session: Session) -> None:
    loop = asyncio.get_running_loop()
    for action in _take(session):
        task = loop.create_task(_guarded(action))
        _running.add(task)
        task.add_done_callback(_running.discard)


def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit running them: they are void. (A
    # savepoint ending changes nothing; after a commit there is nothing left.)
    if transaction.parent is None:
        _take(session)


async def _guarded(action: Action) -> None:
    try:
        await action()
    except Exception as error:  # an event is never worth failing anything for
        log.warning("after_commit_failed", error=repr(error))
