"""Email to SLT when a request for an exception arrives, and to the requester when SLT decide
it. Optional, and never in the way.

Nothing is sent unless ``SMTP_HOST`` is set. A message to SLT carries the person's name and a
link to the SLT page, nothing more: no reason, no category, no dates (email leaves the
school's systems and lingers in inboxes). The requester is told the decision (agreed, not
agreed, ended early), who decided, when, and SLT's reason or conditions, at their own address
only: it is theirs to know, and the kiosk's public screen never shows it. Sending happens
after the request or decision is committed, on a thread of its own, and a failure is logged,
never raised: the request stands whatever the mail server does.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from register.models import Role, User

log = logging.getLogger(__name__)

IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = ""
    timeout: float = 10.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> SmtpSettings | None:
        """From ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_FROM``
        (the environment, or app config); None when no host is set, or the port is not a
        number (logged: a typo in the settings must not stop anyone making a request)."""
        host = str(values.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        port_text = str(values.get("SMTP_PORT") or "587").strip()
        if not port_text.isdigit():
            log.error("SMTP_PORT=%r is not a port number: no email is sent", port_text)
            return None
        user = str(values.get("SMTP_USER") or "").strip()
        sender = str(values.get("SMTP_FROM") or "").strip() or (
            user if "@" in user else f"phone-register@{host}")
        return cls(host, int(port_text), user, str(values.get("SMTP_PASSWORD") or ""), sender)


def slt_addresses(session: Session, exclude_user_id: int | None = None) -> list[str]:
    """Every active SLT user with an email address (but not whoever made the request)."""
    users = session.scalars(
        select(User).where(User.role == Role.SLT, User.active, User.email != "")
        .order_by(User.username))
    return sorted({u.email.strip() for u in users if u.id != exclude_user_id and u.email.strip()})


def request_message(person_name: str, slt_url: str, school: str, sender: str, to: str,
                    ) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Phone exception request: {person_name}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(
        f"{person_name} is waiting for an SLT decision about keeping their phone while on "
        f"duty.\n\nSee the request and decide: {slt_url}\n\n"
        f"-- \n{school} phone register. You receive this because you are a member of SLT.\n")
    return message


DECISION_SUBJECTS = {
    "approved": "agreed", "declined": "not agreed", "revoked": "ended early"}


def decision_message(first_name: str, status: str, window: str, decided_by: str,
                     decided_at: str, note: str, school: str, sender: str, to: str,
                     ) -> EmailMessage:
    """To the requester: SLT's decision on their request, with the reason (or conditions)."""
    outcome = DECISION_SUBJECTS[status]
    message = EmailMessage()
    message["Subject"] = f"Your phone exception request: {outcome}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if status == "approved":
        said = (f"Your request to keep your phone while on duty ({window}) was agreed by "
                f"{decided_by} on {decided_at}.")
        detail = f"Conditions: {note}\n\n" if note else ""
        after = "Scan in at the kiosk as usual: it shows until when you may keep your phone."
    elif status == "revoked":
        said = (f"Your agreed exception to keep your phone while on duty ({window}) was ended "
                f"early by {decided_by} on {decided_at}.")
        detail = f"Reason: {note}\n\n" if note else ""
        after = (f"Please lock your phone away at the kiosk. If you need to talk about it, "
                 f"please speak to {decided_by}.")
    else:
        said = (f"Your request to keep your phone while on duty ({window}) was not agreed by "
                f"{decided_by} on {decided_at}.")
        detail = f"Reason: {note}\n\n" if note else ""
        after = f"If you need to talk about it, please speak to {decided_by}."
    message.set_content(
        f"Dear {first_name},\n\n{said}\n\n{detail}{after}\n\n"
        f"-- \n{school} phone register. You receive this because you asked for an exception "
        "to the phone policy.\n")
    return message


def send(settings: SmtpSettings, messages: Sequence[EmailMessage], audience: str = "SLT",
         ) -> int:
    """Send over one connection; how many were accepted. Logs failures, never raises.
    ``audience`` names who it was for, in the log."""
    if not messages:
        return 0
    try:
        with _connect(settings) as smtp:
            for message in messages:
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.error("email to %s not sent via %s:%s: %s", audience, settings.host, settings.port,
                  error or type(error).__name__)
        return 0
    log.info("emailed %d message(s) to %s about an exception request", len(messages), audience)
    return len(messages)


def send_in_background(settings: SmtpSettings, messages: Sequence[EmailMessage],
                       audience: str = "SLT") -> threading.Thread:
    """Send without keeping the person who made the request waiting on the mail server."""
    thread = threading.Thread(target=send, args=(settings, list(messages), audience),
                              name="email-slt", daemon=True)
    thread.start()
    return thread


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.port == IMPLICIT_TLS_PORT:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                              timeout=settings.timeout, context=context)
        secure = True
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        secure = False
    try:
        smtp.ehlo()
        if not secure and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            secure = True
        if settings.user:
            if not secure:
                raise smtplib.SMTPException(
                    "the server offers no TLS; the SMTP password is never sent in clear")
            smtp.login(settings.user, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp
