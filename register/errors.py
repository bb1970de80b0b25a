"""One exception tree for the register: every refusal carries a sentence a person can read
and a ``reason``, a stable word that the web layer maps to an HTTP status (kiosk/answers.py)."""

from __future__ import annotations

from typing import Any

REFUSED = "refused"


def refusal(reason: str, message: str) -> dict[str, Any]:
    """The one body of every refusal, wherever it is answered (the scan API, the kiosk page,
    its events, the agent): the same keys everywhere."""
    return {"outcome": REFUSED, "reason": reason, "message": message, "locker": None,
            "person": None}


class RegisterError(Exception):
    """Base of every domain error. ``str(error)`` is shown to users as it is."""

    reason = "invalid"
    field: str | None = None  # the form field at fault, when there is one


class InvalidImei(RegisterError):
    reason = "invalid_imei"


class ImeiTaken(RegisterError):
    reason = "taken"


class NotFound(RegisterError):
    reason = "not_found"


class ScanRefused(RegisterError):
    """A code that cannot be acted on at the kiosk; ``reason`` says why, in one word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ValidationError(RegisterError):
    pass
