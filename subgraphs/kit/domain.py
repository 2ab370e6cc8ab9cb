"""The one shape of an expected failure in a service: a code programs branch on, the input field
at fault, and a message for people. Resolvers turn it into a userError."""

from __future__ import annotations

import enum


class DomainError(Exception):
    def __init__(self, code: enum.Enum, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
