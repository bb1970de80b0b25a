"""The fire alarm's printout: the roll call, as a PDF, sent to the office's printer by CUPS.

``lp`` (CUPS) prints it on ``FIRE_PRINTER`` when that is set, else on CUPS's default printer.
A server without ``lp`` logs that printing is not configured and the roll call stays on every
SLT screen (register.fire). Every print is in the audit trail (``print.roll_call``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess

from flask import current_app

from kiosk import pdf
from kiosk.extensions import db
from register import audit, fire, rollcall
from register.db import unit_of_work
from register.models import utc_now
from register.rollcall import RollCall

log = logging.getLogger(__name__)
LP_TIMEOUT_SECONDS = 20


def roll_call_pdf(call: RollCall, stamp: pdf.Stamp) -> bytes:
    """Everyone on site by category, with a box to tick: the paper the fire marshal takes."""
    flow, f = pdf._Flow(), pdf.fonts()
    flow.text(f"{call.total} on site, {call.phones_in_lockers} phones in lockers. "
              "Tick each person as they are seen at the assembly point.")
    for group in call.groups:
        flow.table(group.label, ["Seen", "Name", "Since", "Locker (bank)"],
                   [14, 70, 40, 62], [[
                       ("[   ]", f.mono), (person.name, f.bold),
                       (stamp.local(person.since, "%H:%M" if not person.earlier_day
                                    else "%a %d %b %H:%M"), f.sans),
                       ("none" if person.no_phone else person.lockers, f.sans)]
                       for person in group.people])
    if call.may_have_gone:
        flow.table("May have gone home without scanning out", ["Name", "Since", "Lockers"],
                   [80, 46, 60], [[(p.name, f.sans), (stamp.local(p.since, "%a %d %b %H:%M"),
                                                      f.sans), (p.lockers, f.sans)]
                                  for p in call.may_have_gone])
    return pdf.document_pdf(flow.blocks, stamp, "Personal data: for the roll call during this "
                            "alarm; shred it once everyone is accounted for.")


def print_roll_call(kiosk_name: str) -> str:
    """Print the roll call for the alarm at ``kiosk_name``; a sentence saying what happened.
    Opens its own unit of work (the roll call is read after the alarm is committed)."""
    lp = shutil.which("lp")
    if lp is None:
        log.warning("fire alarm: the roll call was not printed: printing is not configured "
                    "(no lp command: install CUPS and set FIRE_PRINTER)")
        return "The roll call was not printed: printing is not configured on the server."
    printer = current_app.config.get("FIRE_PRINTER", "")
    now, zone = utc_now(), current_app.extensions["school_zone"]
    with unit_of_work(db.session()) as session:
        call = rollcall.roll_call(session, zone, now)
        body = roll_call_pdf(call, pdf.Stamp(
            school=current_app.config["SCHOOL_NAME"], title="Fire roll call",
            subtitle=f"Fire alarm at the {fire.kiosk_label(kiosk_name)}", printed_by=fire.ACTOR,
            printed_at=now, zone=zone))
        audit.record(session, fire.ACTOR, "print.roll_call", "report:roll_call",
                     f"{call.total} records; for {printer or 'the default printer'}")
    command = [lp, *(["-d", printer] if printer else []), "-t", "Fire roll call", "-"]
    try:
        result = subprocess.run(command, input=body, capture_output=True,
                                timeout=LP_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.error("fire alarm: lp failed: %s", error)
        return f"The roll call could not be printed ({error})."
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip() or f"lp {result.returncode}"
        log.error("fire alarm: the roll call was not printed: %s", reason)
        return f"The roll call could not be printed ({reason})."
    log.warning("fire alarm: roll call sent to %s", printer or "the default printer")
    return f"The roll call was sent to {printer or 'the default printer'}."
