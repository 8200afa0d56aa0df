"""The domain's error tree: each error is named after the rule it protects."""


class DomainError(Exception):
    """A domain rule was broken; the message says which, in words a client may see."""


class InvalidEmail(DomainError):
    """An email address must be a single, syntactically valid mailbox."""


class PasswordPolicyViolation(DomainError):
    """A password must be 8 characters to 72 UTF-8 bytes long."""


class InvalidTitle(DomainError):
    """An item title must be 1 to 255 characters long and not blank."""


class InvalidDescription(DomainError):
    """An item description must be at most 10,000 characters long."""


class InvalidFullName(DomainError):
    """A full name must be at most 255 characters long."""


class StaleVersion(DomainError):
    """A change was made against a version that is no longer the current one."""
