"""``PUT /uploads/{merchant}/{upload}?expires=…&signature=…``: the file of a staged upload
(``stagedUploadCreate``), sent to the signed URL the API answered, as with Shopify's staged
uploads. 401 for a link we did not sign, 403 for an expired one, 413 past 10 MB (or the size
the upload was reserved for), 404 for an upload that is gone, 400 for a file that is not
UTF-8; 200 once the file is kept (``points.imports.uploads``)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from db.session import tenant_unit_of_work
from gateway.edge.bodies import BodyTooLargeError, read_limited_body
from subgraphs.kit.global_ids import encode_global_id
from subgraphs.kit.resources import Resources
from subgraphs.kit.signed_links import LinkCheck
from subgraphs.points.imports.uploads import (
    MAX_UPLOAD_BYTES,
    StoreOutcome,
    check_upload_link,
    store_upload,
)

_NO_STORE = {"cache-control": "no-store, private"}
_REFUSALS = {
    StoreOutcome.NOT_FOUND: (404, "no such upload (it expired, or was imported): ask for another"),
    StoreOutcome.TOO_LARGE: (413, "the file is larger than the fileSize the upload was made for"),
    StoreOutcome.NOT_UTF8: (400, "an import file is UTF-8 CSV text"),
}


def upload_routes() -> list[BaseRoute]:
    return [Route("/uploads/{merchant_id}/{upload_id}", put_upload, methods=["PUT"])]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


async def put_upload(request: Request) -> JSONResponse:
    resources: Resources = request.app.state.resources
    merchant_id = str(request.path_params["merchant_id"])
    upload_id = str(request.path_params["upload_id"])
    check = check_upload_link(
        resources.settings.token_secret,
        merchant_id,
        upload_id,
        request.query_params.get("expires"),
        request.query_params.get("signature"),
        now=datetime.now(UTC),
    )
    if check is LinkCheck.FORGED:
        return _error(401, "this upload URL is not one we signed")
    if check is LinkCheck.EXPIRED:
        return _error(403, "this upload URL has expired: call stagedUploadCreate again")
    try:
        content = await read_limited_body(request, MAX_UPLOAD_BYTES)
    except BodyTooLargeError:
        return _error(413, f"an import file is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        outcome = await store_upload(session, resources.cipher, merchant_id, upload_id, content)
    if outcome is not StoreOutcome.STORED:
        return _error(*_REFUSALS[outcome])
    return JSONResponse(
        {"upload": encode_global_id("StagedUpload", upload_id), "size": len(content)},
        headers=_NO_STORE,
    )
