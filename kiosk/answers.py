"""The web layer's one mapping from a domain refusal to HTTP: a table of statuses by reason,
and one function that answers every refusal with the same JSON keys (register.errors.refusal)."""

from __future__ import annotations

from flask import Response, jsonify

from register.errors import RegisterError, refusal

STATUS_BY_REASON = {
    # the request itself is wrong, or names nothing
    "bad_request": 400, "empty": 400,
    "unauthorised": 401, "unpaired": 401,
    "left": 403, "typed_badge": 403, "bad_pairing_code": 403, "expired_pairing_code": 403,
    "policy_ask": 403,  # a policy acknowledgement's token not given to this kiosk, or expired
    "too_many_tries": 429,
    "unknown": 404, "unregistered": 404, "no_phone": 404, "not_found": 404,
    # the register is in a state that refuses it now
    "retired": 409, "no_free_locker": 409, "other_bank": 409, "already_asked": 409,
    "decision_refused": 409, "taken": 409, "lock_failed": 409,
    "already_done": 409,  # a confirm or a choice that finds it already done
    # understood, but not valid
    "invalid": 422, "invalid_imei": 422,
}


def status_for(reason: str | None) -> int:
    """200 for an answer that is not a refusal; else the status its reason calls for."""
    return 200 if reason is None else STATUS_BY_REASON.get(reason, 409)


def refused(reason: str, message: str) -> tuple[Response, int]:
    return jsonify(refusal(reason, message)), status_for(reason)


def refused_for(error: RegisterError) -> tuple[Response, int]:
    return refused(error.reason, str(error))
