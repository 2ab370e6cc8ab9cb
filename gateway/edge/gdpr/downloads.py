"""``GET /gdpr/exports/{merchant}/{request}?expires=…&signature=…``: a data request's export,
as a JSON file, for whoever holds a link the API signed (``GdprRequest.exportDownload``) and
until it expires. Never cached; a link that is not ours or has expired is 403."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.downloads import download_is_valid
from subgraphs.admin.gdpr.export import read_export
from subgraphs.kit.resources import Resources

_NO_STORE = {"cache-control": "no-store, private"}


def gdpr_download_routes() -> list[BaseRoute]:
    return [Route("/gdpr/exports/{merchant_id}/{request_id}", download, methods=["GET"])]


async def download(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    merchant_id = str(request.path_params["merchant_id"])
    request_id = str(request.path_params["request_id"])
    if not download_is_valid(
        resources.settings.token_secret,
        merchant_id,
        request_id,
        request.query_params.get("expires"),
        request.query_params.get("signature"),
        now=datetime.now(UTC),
    ):
        return JSONResponse(
            {"error": "this download link is not valid, or has expired: ask for a new one"},
            status_code=403,
            headers=_NO_STORE,
        )
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        export = await read_export(session, resources.cipher, merchant_id, request_id)
    if export is None:
        return JSONResponse(
            {"error": "the export is gone (a later redact erased it)"},
            status_code=404,
            headers=_NO_STORE,
        )
    return Response(
        orjson.dumps(export),
        media_type="application/json",
        headers={
            **_NO_STORE,
            "content-disposition": f'attachment; filename="gdpr-export-{request_id}.json"',
        },
    )
