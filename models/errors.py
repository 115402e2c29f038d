"""Domain errors: each names a situation and carries a stable code and, for input, a field path."""

from __future__ import annotations


class DomainError(Exception):
    """A broken business rule or invalid input, reported to the caller as a typed error."""

    code: str = "INVALID"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Duplicate(DomainError):
    code = "DUPLICATE"


class Forbidden(DomainError):
    """The actor may call the operation but may not act on this object."""

    code = "FORBIDDEN"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class PushAlreadyClaimed(DomainError):
    code = "ALREADY_CLAIMED"


class ValidationErrors(DomainError):
    """Several input errors found at once; nothing was written."""

    code = "INVALID_INPUT"

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def raise_all(errors: list[DomainError]) -> None:
    """Raise the collected input errors together, so the caller sees every bad field at once."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ValidationErrors(errors)
