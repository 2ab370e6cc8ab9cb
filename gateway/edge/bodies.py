"""Reading a request body up to a limit: the edge app's endpoints take bodies from anyone on
the internet, so none is read whole into memory before its size is known."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLargeError(Exception):
    """The body is (or declares itself) longer than the endpoint takes: answer 413."""


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes — at once when its declared
    length says so, otherwise while it streams in (a client may send no or a false length)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError
    return bytes(body)
