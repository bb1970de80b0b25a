"""Senior leadership: what is happening now. Exceptions arrive with their own pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from kiosk.auth import actor, roles_required
from kiosk.extensions import db
from register import audit, kiosk_link
from register.models import Deposit, Device, LockerBank, Role

bp = Blueprint("slt", __name__, url_prefix="/slt")


@bp.before_request
@roles_required(Role.SLT)
def require_slt() -> None:
    """Every page here is for SLT (and admins)."""


@bp.route("/")
def now() -> str:
    deposits = list(db.session.scalars(
        select(Deposit).where(Deposit.collected_at.is_(None))
        .options(joinedload(Deposit.device).joinedload(Device.owner), joinedload(Deposit.locker),
                 joinedload(Deposit.door))
        .order_by(Deposit.deposited_at)
    ))
    banks = list(db.session.scalars(select(LockerBank).order_by(LockerBank.name)))
    alerts = kiosk_link.attention(db.session)
    with_doors = kiosk_link.any_agent(db.session)
    audit.record(db.session, actor(), "slt.now.view", detail=f"{len(deposits)} phones listed")
    db.session.commit()
    return render_template("slt/now.html", deposits=deposits, banks=banks, alerts=alerts,
                           with_doors=with_doors)
