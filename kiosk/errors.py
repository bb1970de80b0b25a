"""Bad input gets a sentence, never a 500: error answers, and the bounds on what a request may
carry before any view sees it.

- Every error under ``/api/``, or for a request that sent JSON (the kiosk page's calls), is
  JSON with the keys of every other refusal (register.errors.refusal); elsewhere a page.
- ``<int:...>`` in any route takes ASCII digits up to the largest id a table holds: a larger
  id is a 404, never an overflow in the database driver.
- Days in reports and requests fall between FIRST_DAY and LAST_DAY (the views refuse others
  with a sentence).
- A JSON body nested deeper than MAX_JSON_DEPTH does not parse (``request.get_json(silent=True)``
  gives None, and the view answers 400 with what to send): deeper bodies would exhaust the
  interpreter's stack, in the parser or in whatever walks them after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from register.errors import ValidationError, refusal
from register.text import MAX_ID

# Days anyone may ask about or choose: the register holds nothing before, and the calendar's
# edge (where date arithmetic overflows into a 500) is far outside.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def typed_date(text: str, what: str) -> date:
    """A date as a form sends it (YYYY-MM-DD), between FIRST_DAY and LAST_DAY; refused with a
    sentence naming ``what`` ("the first day") otherwise."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"Enter {what} as a date.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"Choose {what} between {FIRST_DAY.year} and {LAST_DAY.year}.")
    return day
MAX_JSON_DEPTH = 32  # the deepest body anything sends is 3 ({"readers": {"rfid": {...}}})

# A sentence for the errors anyone can cause; any other says what werkzeug says.
MESSAGES = {
    400: "The request could not be understood.",
    404: "There is nothing at this address.",
    405: "This address does not take that method.",
    413: "That is too much to send in one go.",
    500: "Something went wrong. Nothing was saved. Please try again.",
}


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: its ``<int:>`` rules take the converter then."""
    app.url_map.converters["int"] = DatabaseId
    app.json = BoundedJSONProvider(app)
    app.register_error_handler(HTTPException, _answer)


class DatabaseId(IntegerConverter):
    """Flask's ``int``, in ASCII digits and at most MAX_ID: a larger id names nothing."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, **kwargs)
        self.max = MAX_ID if self.max is None else min(self.max, MAX_ID)


class JsonTooDeep(ValueError):
    pass


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise JsonTooDeep(f"JSON nested more than {MAX_JSON_DEPTH} deep") from None
        if _deeper_than(value, MAX_JSON_DEPTH):
            raise JsonTooDeep(f"JSON nested more than {MAX_JSON_DEPTH} deep")
        return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep, without recursing."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


KIOSK_RETRY_SECONDS = 10


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.is_json


def _answer(error: HTTPException) -> Any:
    code = error.code or 500
    if wants_json():
        return _json_answer(error, code)
    if code == 404:
        return render_template("error.html", title="Page not found",
                               message=MESSAGES[404]), 404
    if code == 500:
        # Nothing to undo: a failed unit of work has rolled back, and a read ends with the
        # request (Flask-SQLAlchemy removes the session).
        page = render_template("error.html", title="Something went wrong",
                               message="Nothing was saved. Please try again.")
        if request.path == "/kiosk" or request.path.startswith("/kiosk/"):
            # Nobody at a kiosk can press reload: the touchscreen asks again by itself.
            return page, 500, {"Refresh": str(KIOSK_RETRY_SECONDS)}
        return page, 500
    return error


def _json_answer(error: HTTPException, code: int) -> tuple[Response, int]:
    reason = (error.name or "error").lower().replace(" ", "_")
    default = type(error).description
    message = MESSAGES.get(code) if error.description == default else error.description
    response = jsonify(refusal(reason, message or str(error.description)))
    for name, value in error.get_headers():  # Allow, for a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, code
