"""School-wide settings stored in the database, changed by an admin without a deploy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from register import audit
from register.models import Setting

SECOND_APPROVER_CATEGORIES = "second_approver_categories"


def get(session: Session, key: str, default: str = "") -> str:
    setting = session.get(Setting, key)
    return setting.value if setting else default


def put(session: Session, key: str, value: str, actor: str) -> None:
    setting = session.get(Setting, key) or Setting(key=key)
    setting.value = value
    session.add(setting)
    audit.record(session, actor, "settings.change", f"setting:{key}", value[:200])


def second_approver_categories(session: Session) -> set[str]:
    """Exception categories that need two SLT approvals before they take effect."""
    return {c for c in get(session, SECOND_APPROVER_CATEGORIES).split(",") if c}
