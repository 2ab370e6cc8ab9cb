"""``GET /gdpr/exports/{merchant}/{request}?expires=…&link=…&signature=…``: a data request's
export, as a JSON file, for whoever holds a link the API signed (``GdprRequest.exportDownload``),
once, until it expires. Never cached; a link that is not ours or has expired is 403, one used
already 410 (both say to ask for a new one), an export a redact erased 404."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.downloads import download_is_valid
from subgraphs.admin.gdpr.export import read_export
from subgraphs.admin.gdpr.repository import GdprExportDownloadsRepository
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
        request.query_params.get("link"),
        request.query_params.get("signature"),
        now=datetime.now(UTC),
    ):
        return JSONResponse(
            {"error": "this download link is not valid, or has expired: ask for a new one"},
            status_code=403,
            headers=_NO_STORE,
        )
    link = str(request.query_params["link"])
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        export = await read_export(session, resources.cipher, merchant_id, request_id)
        # In the transaction that reads the export: a use is recorded if and only if the
        # export was there to hand out.
        first_use = export is not None and await GdprExportDownloadsRepository(
            session, merchant_id
        ).use_link(link, request_id)
    if export is None:
        return JSONResponse(
            {"error": "the export is gone (a later redact erased it)"},
            status_code=404,
            headers=_NO_STORE,
        )
    if not first_use:
        return JSONResponse(
            {"error": "this download link was used already: ask for a new one"},
            status_code=410,
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
