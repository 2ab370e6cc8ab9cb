"""Previewing, applying and undoing imports."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.models import DataImportStatus
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.graphql.node import global_id, local_id
from subgraphs.kit.jobs import job_queue
from subgraphs.points.imports import service
from subgraphs.points.imports.queued import create_import, enqueue_commit
from subgraphs.points.imports.revert import RevertOutcome, revert_import
from subgraphs.points.imports.types import (
    DataImport,
    DataImportCreateInput,
    DataImportCreatePayload,
    DataImportRevertInput,
    DataImportRevertPayload,
    StagedUploadCreateInput,
    StagedUploadCreatePayload,
    StagedUploadTarget,
)
from subgraphs.points.imports.uploads import UploadTarget, create_staged_upload
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Validate a CSV file of customers and balances and preview what importing it "
    "would do (dryRun, the default), or queue it for a worker to apply: all rows or none, each "
    "balance one `import` ledger entry, once per idempotencyKey (or file)."
)
async def data_import_create(
    info: PointsInfo,
    input: Annotated[
        DataImportCreateInput,
        strawberry.argument(description="The file, its source, and whether to apply it."),
    ],
) -> DataImportCreatePayload:
    async def respond(outcome: service.ImportOutcome) -> DataImportCreatePayload:
        if outcome.data_import.status == DataImportStatus.QUEUED:
            # After the commit, so the job finds the import; lost, the sweeper asks again.
            await enqueue_commit(job_queue(info.context.resources.redis), outcome.data_import)
        return DataImportCreatePayload(
            data_import=DataImport.from_row(outcome.data_import), replayed=outcome.replayed
        )

    return await points_mutation(
        info,
        DataImportCreatePayload,
        lambda scope: create_import(scope.write, scope.resources.cipher, input.to_request()),
        respond,
    )


@strawberry.mutation(
    description="Undo a committed import within 30 days: its ledger entries are reversed (as "
    "far as balances allow: the import says by how much it fell short) and the customers it "
    "created with no other activity are removed. Reverting again changes nothing."
)
async def data_import_revert(
    info: PointsInfo,
    input: Annotated[DataImportRevertInput, strawberry.argument(description="The import.")],
) -> DataImportRevertPayload:
    async def respond(outcome: RevertOutcome) -> DataImportRevertPayload:
        if not outcome.replayed:
            await ledger_changed(
                info.context.resources, outcome.data_import.merchant_id, reason="data_import"
            )
        return DataImportRevertPayload(
            data_import=DataImport.from_row(outcome.data_import), replayed=outcome.replayed
        )

    return await points_mutation(
        info,
        DataImportRevertPayload,
        lambda scope: revert_import(scope.write, local_id(input.id, "DataImport")),
        respond,
    )


@strawberry.mutation(
    description="Reserve an upload of an import file, the Shopify way: PUT the file's bytes to "
    "the signed URL it answers (within 15 minutes), then import it with "
    "dataImportCreate(input: {upload}). Files of up to 10 MB, past the router's 1 MB body."
)
async def staged_upload_create(
    info: PointsInfo,
    input: Annotated[StagedUploadCreateInput, strawberry.argument(description="The file.")],
) -> StagedUploadCreatePayload:
    settings = info.context.resources.settings

    def respond(target: UploadTarget) -> StagedUploadCreatePayload:
        return StagedUploadCreatePayload(
            staged_target=StagedUploadTarget(
                upload=strawberry.ID(global_id("StagedUpload", target.upload.id)),
                url=target.url,
                url_expires_at=target.url_expires_at,
                expires_at=target.upload.expires_at,
            )
        )

    return await points_mutation(
        info,
        StagedUploadCreatePayload,
        lambda scope: create_staged_upload(
            scope.write,
            app_url=settings.app_url,
            secret=settings.token_secret,
            file_name=input.filename,
            file_size=int(input.file_size),
            mime_type=input.mime_type,
        ),
        respond,
    )


DataImportMutation = create_type(
    "DataImportMutation", [data_import_create, data_import_revert, staged_upload_create]
)
