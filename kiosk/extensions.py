import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf.csrf import CSRFProtect

from register.db import declare_units_of_work, read_only, unit_of_work
from register.models import Base

# expire_on_commit=False: a page rendered after its unit of work commits shows what it wrote
# without reading every row again.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
csrf = CSRFProtect()
P = ParamSpec("P")
R = TypeVar("R")
# The web app and its CLI write only inside register.db.unit_of_work: any other write fails.
declare_units_of_work(Session)


def in_unit_of_work(view: Callable[P, R]) -> Callable[P, R]:
    """The whole view is one unit of work: for pages that record who saw them."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work(db.session()):
            return view(*args, **kwargs)

    return wrapped


def read_only_view(view: Callable[P, R]) -> Callable[P, R]:
    """The whole view only reads, in one snapshot."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with read_only(db.session()):
            return view(*args, **kwargs)

    return wrapped
