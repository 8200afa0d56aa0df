"""The application's error tree. Entry points map these (and DomainError) to responses."""


class ApplicationError(Exception):
    """A use case could not do what was asked; the message is safe to show a client."""


class NotFound(ApplicationError):
    """The resource does not exist, or the caller may not know that it exists."""


class ItemNotFound(NotFound):
    """No item with that id is visible to the caller."""


class UserNotFound(NotFound):
    """No user with that id is visible to the caller."""


class AttachmentNotFound(NotFound):
    """No attachment with that id belongs to the item."""


class BlobNotFound(NotFound):
    """No stored bytes under that key."""


class JobNotFound(NotFound):
    """No job with that id is recorded."""


class Conflict(ApplicationError):
    """The change conflicts with the current state of stored data."""


class AttachmentLimitReached(Conflict):
    """An item carries at most MAX_ATTACHMENTS_PER_ITEM attachments."""


class JobNotFailed(Conflict):
    """Only a failed job can be sent back to the queue."""


class EmailAlreadyRegistered(Conflict):
    """An email address belongs to at most one account, whatever its case."""


class IdempotencyKeyInUse(Conflict):
    """An Idempotency-Key has one record: another request with the key was recorded first."""


class IdempotencyKeyReused(ApplicationError):
    """An Idempotency-Key names one request: reusing it for a different request is refused."""


class PermissionDenied(ApplicationError):
    """The caller's role does not allow this action."""


class PreconditionFailed(ApplicationError):
    """The caller's expectation of the current version no longer holds."""


class AuthenticationFailed(ApplicationError):
    """The request carries no usable credentials."""


class InvalidToken(AuthenticationFailed):
    """The token is malformed, forged, of the wrong type or not valid for this service."""


class TokenExpired(InvalidToken):
    """The token's lifetime is over."""


class TokenRevoked(InvalidToken):
    """The token was revoked (logout, password change or reset, deactivation)."""


class InvalidGrant(ApplicationError):
    """The credentials or refresh token offered for a grant are not valid (RFC 6749 §5.2)."""


class InvalidResetToken(ApplicationError):
    """A password-reset token is unknown, expired or already used."""


class WrongPassword(ApplicationError):
    """The current password given to confirm a change is not the account's password."""


class InvalidCursor(ApplicationError):
    """A pagination cursor was not made by this service for this caller."""


class RateLimited(ApplicationError):
    """Too many attempts; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} seconds")
        self.retry_after = retry_after


class DependencyUnavailable(ApplicationError):
    """A backing service (database, cache, broker) could not be reached."""


class Overloaded(ApplicationError):
    """More of this work is waiting than can be done soon; retry after `retry_after` seconds."""

    def __init__(self, what: str, retry_after: int = 1) -> None:
        super().__init__(f"too many {what} are waiting; retry after {retry_after} seconds")
        self.retry_after = retry_after


class DependencyBusy(Overloaded, DependencyUnavailable):
    """Every connection to a backing service stayed in use longer than a caller may wait: load,
    not an outage (answered as Overloaded); code that retries an unavailable service later
    retries this too."""


class InvalidPage(ApplicationError):
    """A page must start at 0 or later and hold 1 to 100 entries."""


class UploadTooLarge(ApplicationError):
    """An upload may not exceed MAX_UPLOAD_BYTES."""


class EmptyUpload(ApplicationError):
    """An attachment must have at least one byte."""
