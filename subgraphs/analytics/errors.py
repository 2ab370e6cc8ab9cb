"""The analytics subgraph's expected failures (``AnalyticsError``), shared by its domains."""

from __future__ import annotations

import enum

from subgraphs.kit.domain import DomainError


class AnalyticsErrorCode(enum.StrEnum):
    INVALID_THRESHOLDS = enum.auto()
    UNKNOWN_PRESET = enum.auto()
    VERSION_CONFLICT = enum.auto()
    INVALID_SEGMENT = enum.auto()
    SEGMENT_NAME_TAKEN = enum.auto()
    SUGGESTION_NOT_FOUND = enum.auto()
    SUGGESTION_DECIDED = enum.auto()


class AnalyticsError(DomainError):
    code: AnalyticsErrorCode
