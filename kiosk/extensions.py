import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import orm

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


def _whole_view_in(scope: Callable[[orm.Session], AbstractContextManager[orm.Session]],
                   ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            with scope(db.session()):
                return view(*args, **kwargs)

        return wrapped

    return decorator


# The whole view is one unit of work: for pages that record who saw them.
in_unit_of_work = _whole_view_in(unit_of_work)
# The whole view only reads, in one snapshot.
read_only_view = _whole_view_in(read_only)
