"""Identical subscriptions on one socket run once: one execution per event, sent to each.

The router multiplexes every subscription that carries the same token onto one upstream
socket, so a shop's 1,000 live dashboards reach a subgraph as 1,000 identical `subscribe`
messages on one connection. Strawberry runs each as its own operation: 1,000 resolver
streams and 1,000 executions of the same selection over the same snapshot per event, which
was ~75 % of the subgraph's CPU in bench/realtime.py and put every update 0.2 to 0.8 s late.

Here the first `subscribe` of a (document, operation name, variables) starts one shared
stream; later identical ones join it and first get its latest result (a snapshot computed
after the last event, so as current as a fresh read), then every result after. Sharing is
safe because everything a result depends on is the same for them: one socket has one
context (one token, one viewer), and the document and variables are equal. Queries and
mutations sent over the socket are never shared: each runs on its own, as before.

A member leaving (`complete`, or the socket closing) leaves the others streaming; the last
one leaving stops the stream. Every member gets the stream's errors and its end exactly as
it would have alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from subgraphs.kit.graphql.context import Context
from subgraphs.kit.observability import LIVE_SEND_SECONDS, LIVE_STREAMS, LIVE_SUBSCRIBERS

StreamKey = tuple[str, str | None, str]


def shared_stream_key(query: str, operation_name: str | None, variables: Any) -> StreamKey | None:
    """The key identical subscriptions share, or None for what must run on its own (queries,
    mutations, and documents that do not parse: Strawberry reports those)."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        )
    ]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    try:
        encoded = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return query, operation_name, encoded


def _named(definition: OperationDefinitionNode, name: str) -> bool:
    return definition.name is not None and definition.name.value == name


@dataclass(eq=False)
class _SharedStream:
    key: StreamKey
    members: dict[str, Operation[Context[Any], None]] = field(default_factory=dict)
    latest: ExecutionResult | None = None
    # Held while a result goes out, so a member joining gets the latest result and then
    # every later one, in order, none twice and none missed.
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class SharedSubscriptionsHandler(BaseGraphQLTransportWSHandler[Context[Any], None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streams: dict[StreamKey, _SharedStream] = {}
        # The metrics' label: the view of a subgraph app names its subgraph.
        self._subgraph: str = getattr(self.view, "subgraph_name", "unknown")

    async def run_operation(self, operation: Operation[Context[Any], None]) -> None:
        key = shared_stream_key(operation.query, operation.operation_name, operation.variables)
        if key is None:
            await super().run_operation(operation)
            return
        stream = self._streams.get(key)
        if stream is None or stream.finished.is_set() or (stream.task and stream.task.done()):
            stream = self._streams[key] = _SharedStream(key)
            stream.task = asyncio.create_task(self._run_shared(stream, operation))
            stream.task.add_done_callback(self._task_done)
        subscribers = LIVE_SUBSCRIBERS.labels(self._subgraph)
        subscribers.inc()
        try:
            async with stream.sending:
                if stream.latest is not None:
                    await operation.send_next(stream.latest)
                stream.members[operation.id] = operation
            # This task is the member's: cancelled when the client completes it or the
            # socket closes (cleanup_operation), it leaves the stream to the others.
            await stream.finished.wait()
        finally:
            subscribers.dec()
            stream.members.pop(operation.id, None)
            if not stream.members and not stream.finished.is_set() and stream.task is not None:
                # A task cancelled before it ran never reaches its finally: forget it here.
                stream.task.cancel()
                if self._streams.get(key) is stream:
                    del self._streams[key]

    async def _run_shared(
        self, stream: _SharedStream, first: Operation[Context[Any], None]
    ) -> None:
        streams = LIVE_STREAMS.labels(self._subgraph)
        streams.inc()
        try:
            source = await self.schema.stream(
                first.query,
                variable_values=first.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=first.operation_name,
            )
            async with aclosing(source):
                is_first_result = True
                async for result in source:
                    async with stream.sending:
                        members = list(stream.members.values())
                        if is_first_result and isinstance(result, PreExecutionError):
                            for member in members:
                                await self._handle_pre_execution_error(member, result)
                            return
                        if not isinstance(result, ExecutionResult):
                            for member in members:
                                await self._reject_incremental_delivery(member)
                            return
                        stream.latest = result
                        started = time.perf_counter()
                        for member in members:
                            await member.send_next(result)
                        LIVE_SEND_SECONDS.labels(self._subgraph).observe(
                            time.perf_counter() - started
                        )
                    is_first_result = False
            async with stream.sending:
                for member in list(stream.members.values()):
                    await member.send_operation_message({"id": member.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            for member in list(stream.members.values()):
                with suppress(Exception):
                    await member.send_operation_message({"id": member.id, "type": "complete"})
                self.operations.pop(member.id, None)
        finally:
            streams.dec()
            stream.finished.set()
            if self._streams.get(stream.key) is stream:
                del self._streams[stream.key]
