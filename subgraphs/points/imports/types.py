"""Customer data imports as GraphQL: the import, its error log, and the mutations' inputs and
payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from db.models import DataImport as DataImportRow
from db.models import DataImportSource, DataImportStatus
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.pagination import Page, PageRequest, typed_position
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.imports.parsing import MAX_FILE_BYTES, RowErrorCode
from subgraphs.points.imports.revert import REVERT_WINDOW
from subgraphs.points.imports.service import MAX_LOGGED_ERRORS, ImportRequest
from subgraphs.points.imports.sources import ImportField
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import PointsUserError

DataImportSourceEnum = domain_enum(
    DataImportSource,
    name="DataImportSource",
    description="Where an import file comes from: which columns it has.",
    values={
        "SMILE": "A Smile.io customer export (email, points_balance; also its points-import "
        "template: email, points).",
        "LOYALTYLION": "A LoyaltyLion customer export (email, points_approved; merchant_id is "
        "the Shopify customer id). Pending points are not carried over.",
        "SHOPIFY": "Shopify's customer CSV export (Customer ID, Email, Phone, Default Address "
        "Country Code): enrols the shop's customers, with no points.",
        "CUSTOM": "Any CSV, with a `mapping` naming which column holds which field.",
    },
)
DataImportStatusEnum = domain_enum(
    DataImportStatus,
    name="DataImportStatus",
    description="What an import did.",
    values={
        "PREVIEWED": "A dry run: validated and counted; nothing was applied.",
        "QUEUED": "Validated and waiting for a worker to apply it; nothing applied yet.",
        "RUNNING": "A worker is applying it, all rows or none: nothing shows until it is "
        "COMMITTED (see rowsDone).",
        "COMMITTED": "Applied: customers created and balances credited.",
        "FAILED": "Not applied (failureReason says why); nothing of it was applied.",
        "REVERTED": "Applied, then undone by dataImportRevert.",
    },
)
DataImportFieldEnum = domain_enum(
    ImportField,
    name="DataImportField",
    description="What a column of a custom import holds.",
    values={
        "EMAIL": "The customer's email (required): matches the shop's customers.",
        "POINTS": "The points balance to credit: a whole number >= 0.",
        "SHOPIFY_CUSTOMER_ID": "The Shopify customer id (digits or a gid), stored on new "
        "customers.",
        "PHONE": "The phone number, stored encrypted on new customers.",
        "COUNTRY_CODE": "ISO 3166-1 alpha-2 country code, stored on new customers.",
        "SIGNED_UP_AT": "When they joined the old program (an ISO 8601 date): validated only.",
        "BIRTHDAY": "Their birthday (YYYY-MM-DD): validated only.",
        "RFM_SCORE": 'An RFM score ("534", "5-3-4" or a JSON object): validated only, since '
        "analytics computes scores from orders.",
        "LIFECYCLE_STAGE": "new_lead, repeat_buyer, churned or vip: validated only.",
        "ACCEPTS_EMAIL_MARKETING": "Whether they accept email marketing (yes or no, as "
        "Shopify's export says): recorded as their newsletter consent (granted or revoked, "
        "source IMPORT) unless they already made a choice here.",
    },
)
DataImportRowErrorCode = domain_enum(
    RowErrorCode,
    name="DataImportRowErrorCode",
    description="Why a row of an import file was not accepted.",
    values={
        "INVALID_EMAIL": "The email is missing or not a valid address.",
        "DUPLICATE_EMAIL": "The email is on several rows; each of them is refused.",
        "INVALID_POINTS": "The points are not a whole number >= 0 (no commas or decimals), or "
        "more than one ledger entry may credit (1,000,000).",
        "INVALID_DATE": "Not an ISO 8601 date (YYYY-MM-DD, or a date and time).",
        "INVALID_RFM_SCORE": 'Not an RFM score: three digits 1-5 ("534", "5-3-4") or '
        '{"recency": 5, "frequency": 3, "monetary": 4}.',
        "INVALID_LIFECYCLE_STAGE": "Not new_lead, repeat_buyer, churned or vip.",
        "INVALID_SHOPIFY_CUSTOMER_ID": "Not a Shopify customer id (digits, or a gid).",
        "DUPLICATE_SHOPIFY_CUSTOMER_ID": "The Shopify id is on several rows; each is refused.",
        "SHOPIFY_CUSTOMER_ID_TAKEN": "Another customer of the shop (another email) has this "
        "Shopify id.",
        "INVALID_PHONE": "Not a phone number.",
        "INVALID_COUNTRY_CODE": "Not an ISO 3166-1 alpha-2 country code.",
        "MALFORMED_ROW": "The row has more values than the header has columns.",
        "INVALID_MARKETING_CONSENT": "Accepts Email Marketing is not yes or no.",
    },
)


@strawberry.type(description="One problem of an import file, where a spreadsheet shows it.")
class DataImportRowError:
    row: int = strawberry.field(
        description="The row, numbered as a spreadsheet does (the header is row 1)."
    )
    column: str | None = strawberry.field(
        description="The header of the column at fault; null when the row as a whole is."
    )
    code: DataImportRowErrorCode = strawberry.field(description="What is wrong, for programs.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="What is wrong, for people.")


def error_log_page(
    log: list[dict[str, Any]], request: PageRequest
) -> Page[tuple[int, dict[str, Any]]]:
    """A page of the log, which is a list in the import row: positions are indexes."""
    ordered = list(enumerate(log))
    if request.reverse:
        ordered.reverse()
    if request.cursor is None:
        at = len(ordered) if request.backward else -1
    else:
        index = typed_position((int,), request.cursor)[0]
        at = next((n for n, (entry, _) in enumerate(ordered) if entry == index), len(ordered))
    ahead = ordered[:at][::-1] if request.backward else ordered[at + 1 :]
    return Page.from_overfetch(ahead[: request.limit + 1], request)


@strawberry.federation.type(
    keys=["id"],
    description="An import of customers and points balances from a CSV file, or a dry run "
    "of one: what the file held and what was (or would be) done with it.",
)
class DataImport:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    source: DataImportSourceEnum = strawberry.field(description="Whose export the file is.")  # type: ignore[valid-type]
    status: DataImportStatusEnum = strawberry.field(description="What the import did.")  # type: ignore[valid-type]
    file_name: str | None = strawberry.field(description="The file's name, as sent.")
    row_count: int = strawberry.field(
        description="Data rows in the file (blank lines aside); at most a 10 MB file's."
    )
    create_count: int = strawberry.field(
        description="Valid rows whose email no customer has: new customers."
    )
    update_count: int = strawberry.field(
        description="Valid rows of existing customers with points to credit."
    )
    skip_count: int = strawberry.field(
        description="Valid rows of existing customers with no points to bring: unchanged."
    )
    error_count: int = strawberry.field(
        description="Problems found, all of them (the error log keeps the first "
        f"{MAX_LOGGED_ERRORS:,})."
    )
    points_total: UnsignedInt64 = strawberry.field(
        description="Points the import credits (a dry run: would credit), in all."
    )
    rows_done: int = strawberry.field(
        description="Rows applied so far by the worker, of rowsTotal; they show only once the "
        "import is COMMITTED (all rows or none)."
    )
    rows_total: int = strawberry.field(
        description="Rows the import applies: createCount + updateCount."
    )
    attempts: int = strawberry.field(
        description="How many times a worker started applying it (a worker that stopped "
        "mid-way counts; after 3 the import ends FAILED)."
    )
    failure_reason: str | None = strawberry.field(
        description="Why a FAILED import was not applied; null otherwise."
    )
    created_at: datetime = strawberry.field(description="When the file was sent.")
    started_at: datetime | None = strawberry.field(
        description="When a worker last started applying it."
    )
    committed_at: datetime | None = strawberry.field(description="When it was applied.")
    revertible_until: datetime | None = strawberry.field(
        description=f"Until when dataImportRevert can undo it ({REVERT_WINDOW.days} days "
        "after the commit); null for a dry run."
    )
    reverted_at: datetime | None = strawberry.field(description="When it was undone.")
    reverted_points: UnsignedInt64 | None = strawberry.field(
        description="Points the revert took back."
    )
    revert_shortfall: UnsignedInt64 | None = strawberry.field(
        description="Imported points the revert could not take back, because customers had "
        "spent them since (a balance never goes below zero)."
    )
    removed_customers: int | None = strawberry.field(
        description="Customers the import had created, removed by the revert (those with "
        "no other activity)."
    )
    row: strawberry.Private[DataImportRow]

    @classmethod
    def from_row(cls, row: DataImportRow) -> DataImport:
        return cls(
            id=global_id("DataImport", row.id),
            source=DataImportSource(row.source),
            status=DataImportStatus(row.status),
            file_name=row.file_name,
            row_count=row.row_count,
            create_count=row.create_count,
            update_count=row.update_count,
            skip_count=row.skip_count,
            error_count=row.error_count,
            points_total=UnsignedInt64(row.points_total),
            rows_done=row.rows_done,
            rows_total=row.create_count + row.update_count,
            attempts=row.attempts,
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            started_at=row.started_at,
            committed_at=row.committed_at,
            revertible_until=None if row.committed_at is None else row.committed_at + REVERT_WINDOW,
            reverted_at=row.reverted_at,
            reverted_points=None
            if row.reverted_points is None
            else UnsignedInt64(row.reverted_points),
            revert_shortfall=None
            if row.revert_shortfall is None
            else UnsignedInt64(row.revert_shortfall),
            removed_customers=row.removed_customers,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> DataImport | None:
        """A refetch by global ID: readable as ``dataImport(id:)`` is (READ_CUSTOMERS)."""
        require(info.context.viewer, Capability.READ_CUSTOMERS)
        row = await info.context.loaders.data_import_by_id.load(local_id(id, "DataImport"))
        return None if row is None else cls.from_row(row)

    @strawberry.field(description="The problems found, by row and column, in file order.")
    @paged()
    async def error_log(self, paging: PageRequest) -> Connection[DataImportRowError]:
        page = error_log_page(self.row.error_log, paging)
        return to_connection(
            page,
            position=lambda entry: (entry[0],),
            node=lambda entry: DataImportRowError(
                row=entry[1]["row"],
                column=entry[1]["column"],
                code=RowErrorCode(entry[1]["code"]),
                message=entry[1]["message"],
            ),
        )


@strawberry.input(description="Which column of a custom file holds which field.")
class DataImportColumnMapping:
    column: str = strawberry.field(description="The column's header, as in the file.")
    field: DataImportFieldEnum = strawberry.field(description="What the column holds.")  # type: ignore[valid-type]


@strawberry.input(description="A CSV file to preview or import.")
class DataImportCreateInput:
    source: DataImportSourceEnum = strawberry.field(description="Whose export the file is.")  # type: ignore[valid-type]
    file_content: str | None = strawberry.field(
        default=None,
        description=f"The file itself, UTF-8 CSV text with a header row: at most "
        f"{MAX_FILE_BYTES // (1024 * 1024)} MB (through the router, at most its 1 MB request "
        "body: send larger files as an `upload`). Give this or `upload`.",
    )
    upload: strawberry.ID | None = strawberry.field(
        default=None,
        description="A staged upload (stagedUploadCreate) whose file was PUT to its URL, "
        "instead of fileContent.",
    )
    file_name: str | None = strawberry.field(
        default=None, description="The file's name, kept with the import."
    )
    mapping: list[DataImportColumnMapping] | None = strawberry.field(
        default=None, description="For a CUSTOM file: which column holds which field."
    )
    dry_run: bool = strawberry.field(
        default=True,
        description="Only validate and count (the default): nothing is applied. Send false to "
        "apply the file: it is validated now and applied by a worker (the import is QUEUED; "
        "follow it with dataImportProgress).",
    )
    skip_invalid_rows: bool = strawberry.field(
        default=False,
        description="Apply the rows that validate and leave the others out (they are in the "
        "error log). Without it a file with any problem is refused whole.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Makes the commit safe to retry: the same key and file answer the first "
        "import, unchanged. Defaults to the file's fingerprint, so the same file is never "
        "applied twice; send a new key to import a file again after reverting it.",
    )

    def to_request(self) -> ImportRequest:
        return ImportRequest(
            source=DataImportSource(self.source),
            content=b"" if self.file_content is None else self.file_content.encode(),
            upload_id=None if self.upload is None else local_id(self.upload, "StagedUpload"),
            mapping=None
            if self.mapping is None
            else {entry.column: ImportField(entry.field).value for entry in self.mapping},
            dry_run=self.dry_run,
            file_name=self.file_name,
            idempotency_key=self.idempotency_key,
            skip_invalid_rows=self.skip_invalid_rows,
        )


@strawberry.type(description="The result of dataImportCreate.")
class DataImportCreatePayload:
    data_import: DataImport | None = strawberry.field(
        default=None,
        description="The import (a dry run: the preview; a commit: QUEUED, or the earlier "
        "import when replayed); null on userErrors.",
    )
    replayed: bool = strawberry.field(
        default=False,
        description="True when the idempotency key (or the same file) had been imported: the "
        "earlier import, nothing changed now.",
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.input(description="The import to undo.")
class DataImportRevertInput:
    id: strawberry.ID = strawberry.field(description="The import's global ID.")


@strawberry.type(description="The result of dataImportRevert.")
class DataImportRevertPayload:
    data_import: DataImport | None = strawberry.field(
        default=None, description="The import, REVERTED; null on userErrors."
    )
    replayed: bool = strawberry.field(
        default=False, description="True when it had been reverted already: nothing changed."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.input(description="The file to upload for an import.")
class StagedUploadCreateInput:
    filename: str = strawberry.field(description="The file's name, kept with the import.")
    file_size: UnsignedInt64 = strawberry.field(
        description=f"The file's size in bytes: at most {MAX_FILE_BYTES // (1024 * 1024)} MB; "
        "the PUT may not send more."
    )
    mime_type: str = strawberry.field(description="The file's type: text/csv (or text/plain).")


@strawberry.type(description="Where to PUT a file, and the upload to import it by.")
class StagedUploadTarget:
    upload: strawberry.ID = strawberry.field(
        description="The upload's global ID: dataImportCreate(input: {upload}) imports its file."
    )
    url: str = strawberry.field(
        description="Send the file's bytes as the body of an HTTP PUT to this URL (signed; "
        "no other credentials), before urlExpiresAt. Larger than fileSize is 413."
    )
    url_expires_at: datetime = strawberry.field(description="Until when the URL takes the PUT.")
    expires_at: datetime = strawberry.field(
        description="Until when the file is kept if no import applies it (a day)."
    )


@strawberry.type(description="The result of stagedUploadCreate.")
class StagedUploadCreatePayload:
    staged_target: StagedUploadTarget | None = strawberry.field(
        default=None, description="Where to PUT the file; null on userErrors."
    )
    user_errors: list[PointsUserError] = user_errors_field()
