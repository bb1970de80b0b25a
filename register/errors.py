"""One exception tree for the register: every refusal carries a sentence a person can read."""


class RegisterError(Exception):
    """Base of every domain error. ``str(error)`` is shown to users as it is."""

    field: str | None = None  # the form field at fault, when there is one


class InvalidImei(RegisterError):
    pass


class ImeiTaken(RegisterError):
    pass


class NotFound(RegisterError):
    pass


class ScanRefused(RegisterError):
    """A kiosk scan that cannot be acted on; ``reason`` is a stable machine-readable word."""

    def __init__(self, reason: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class ValidationError(RegisterError):
    pass
