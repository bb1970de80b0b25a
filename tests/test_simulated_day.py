"""Done means (issue 10): a simulated day of 60 staff at two kiosks, through the real API with
the kiosks' bearer tokens, on gunicorn as it is served, with re-scans inside the guard, a
declined request, a 15:45 leaver after their exception ended, a governor with no phone and a
server restart in the middle, ends with a fire roll call, a daily log and a compliance report
that are true of what happened.

The test keeps its own account of the day (who came in and left when, which phones were in
lockers, what the exception covered) and checks the three reports, as an office user fetches
them, against it: never against the code's own figures. The server's clock is simulated
(tests/simulated_clock.py), so the day runs in seconds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from register import exception_requests, kiosks, people
from register.exception_requests import Window
from register.imei import luhn_check_digit
from register.models import User
from tests.conftest import FAST_HASH, LONDON, PASSWORD
from tests.servers import Gunicorn
from tests.test_logs import Browser

# A Wednesday in a November to come (GMT, so local times are UTC): in the future, since the
# browser drops a sign-in cookie that expired by the real clock.
DAY = next(day for day in (date(date.today().year + 1, 11, d) for d in range(1, 8))
           if day.weekday() == 2)
STAFF = 60
EXCEPTION, DECLINED = 0, 1  # staff by index: until 15:30 / asked, declined at 08:05
LATE = (57, 58, 59)  # arrive at lunchtime, across the server restart
LEFT_PHONES = (50, 51, 52)  # go home without collecting
EVENING = 53  # collects, then comes back for the evening at 17:05
RESCANS = range(2, 12)  # scan again 2 s after depositing
GOVERNOR = "Gwen Hale"
GOVERNOR_BADGE = "0000900001"
GRACE = 600  # seconds


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=UTC)


def name(i: int) -> str:
    return f"Staff{i:02d} Tester"


def badge(i: int) -> str:
    return f"00010{i:05d}"


# --- the test's own account of the day ------------------------------------------------------

OPEN = None  # a period or deposit not yet ended


@dataclass
class Truth:
    """What happened, as the test did it."""

    log: list[tuple[str, str, str]] = field(default_factory=list)  # (event, name, HH:MM:SS)
    duty: dict[str, list[list[datetime | None]]] = field(default_factory=dict)
    locked: dict[str, list[list[datetime | None]]] = field(default_factory=dict)
    no_phone: dict[str, list[list[datetime | None]]] = field(default_factory=dict)
    exception: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)

    def deposit(self, who: str, when: datetime) -> None:
        self.log.append(("deposited", who, f"{when:%H:%M:%S}"))
        self.locked.setdefault(who, []).append([when, OPEN])
        if not self.on_duty(who):
            self.duty.setdefault(who, []).append([when, OPEN])

    def collect(self, who: str, when: datetime) -> None:
        self.log.append(("collected", who, f"{when:%H:%M:%S}"))
        self.locked[who][-1][1] = when
        self.duty[who][-1][1] = when

    def sign_in(self, who: str, when: datetime, no_phone: bool = False) -> None:
        self.duty.setdefault(who, []).append([when, OPEN])
        if no_phone:
            self.no_phone.setdefault(who, []).append([when, OPEN])

    def sign_out(self, who: str, when: datetime) -> None:
        self.duty[who][-1][1] = when
        if who in self.no_phone:
            self.no_phone[who][-1][1] = when

    def on_duty(self, who: str) -> bool:
        return bool(self.duty.get(who)) and self.duty[who][-1][1] is OPEN

    def in_locker(self, who: str) -> bool:
        return bool(self.locked.get(who)) and self.locked[who][-1][1] is OPEN

    def compliance(self, now: datetime) -> dict[str, int]:
        """Staff-days on duty (one day here), met the policy (at most 10 minutes of duty not
        covered by a phone in a locker, the exception, or having no phone), with a gap, and
        relying on the exception: worked out here from the test's own record."""
        tally = {"on_duty": 0, "compliant": 0, "gaps": 0, "with_exception": 0}
        for who, periods in self.duty.items():
            worked = _closed(periods, now)
            agreed = [self.exception[who]] if who in self.exception else []
            cover = (_closed(self.locked.get(who, []), now) + agreed
                     + _closed(self.no_phone.get(who, []), now))
            uncovered = _length(worked) - _overlap(worked, cover)
            tally["on_duty"] += 1
            tally["compliant"] += uncovered <= GRACE
            tally["gaps"] += uncovered > GRACE
            tally["with_exception"] += _overlap(worked, agreed) > 0
        return tally


Span = tuple[datetime, datetime]


def _closed(spans: list[list[datetime | None]], now: datetime) -> list[Span]:
    return [(start, end or now) for start, end in spans if start is not None]


def _length(spans: list[Span]) -> float:
    return sum((end - start).total_seconds() for start, end in spans)


def _overlap(spans: list[Span], cover: list[Span]) -> float:
    """Seconds of ``spans`` (which do not overlap each other) inside the union of ``cover``."""
    merged: list[list[datetime]] = []
    for start, end in sorted(cover):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return sum(max((min(end, c_end) - max(start, c_start)).total_seconds(), 0)
               for start, end in spans for c_start, c_end in merged)


# --- the server -----------------------------------------------------------------------------

class Server(Gunicorn):
    """The product on two workers with the test's clock (tests/simulated_clock.py)."""

    def __init__(self, env: dict[str, str], clock: Path, log: Path, tokens: list[str]) -> None:
        super().__init__("tests.simulated_clock:app", env, log)
        self.clock, self.tokens = clock, tokens

    def set_clock(self, moment: datetime) -> None:
        self.clock.write_text(moment.isoformat(), encoding="utf-8")

    def scan(self, kiosk: int, code: str, when: datetime, key: str | None = None,
             **extra: object) -> tuple[int, dict[str, object], bool]:
        """One read, as the kiosk agent sends it: its key, its time, its reader."""
        body = {"code": code, "key": key or uuid.uuid4().hex, "scanned_at": when.isoformat(),
                "source": "rfid", **extra}
        request = urllib.request.Request(
            f"{self.url}/api/v1/scan", json.dumps(body).encode(),
            {"Authorization": f"Bearer {self.tokens[kiosk]}",
             "Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return (response.status, json.loads(response.read()),
                        response.headers.get("Idempotent-Replayed") == "true")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), False


@pytest.fixture
def server(engine, database_url_for_test, tmp_path) -> Iterator[Server]:
    with Session(engine) as session:
        tokens = []
        for bank in ("Staff room", "Hall"):
            people.add_bank(session, bank, 40, "test")
            tokens.append(kiosks.create_kiosk(session, f"{bank} kiosk", bank)[1])
        for i in range(STAFF):
            person = people.add_person(session, people.PersonDetails(
                name=name(i), category="staff", badge_id=badge(i)), "test")
            body = f"35{i + 1:012d}"
            people.register_device(session, person, people.DeviceDetails(
                imei=body + str(luhn_check_digit(body)), make="Test", model="Phone"), "test")
        people.add_person(session, people.PersonDetails(
            name=GOVERNOR, category="governor", badge_id=GOVERNOR_BADGE), "test")
        dana = people.add_person(session, people.PersonDetails(name="Dana Hughes",
                                                               category="staff"), "test")
        session.add_all([User(username="dana", password_hash=FAST_HASH, role="slt",
                              person=dana),
                         User(username="office", password_hash=FAST_HASH, role="office")])
        session.commit()
    clock = tmp_path / "clock"
    env = {**os.environ, "KIOSK_ENV": "demo", "DATABASE_URL": database_url_for_test,
           "SIMULATED_CLOCK_FILE": str(clock), "TIME_ZONE": "Europe/London"}
    running = Server(env, clock, tmp_path / "gunicorn.log", tokens)
    running.set_clock(at(7, 0))
    running.start()
    try:
        yield running
    finally:
        if running.process is not None:
            running.stop()
    assert "Traceback" not in running.log.read_text(), running.log.read_text()


def decide_requests(engine) -> None:
    """Before the day: an exception for Staff00 until 15:30, agreed at 07:25; Staff01's
    request made at 07:50 and declined at 08:05 (the SLT page does this; here, its service)."""
    with Session(engine) as session:
        dana = session.query(User).filter_by(username="dana").one()
        staff = {p.name: p for p in session.query(people.Person)}
        agreed = exception_requests.request_exception(
            session, staff[name(EXCEPTION)], "emergency", "Son in hospital",
            Window(DAY, DAY, None, at(15, 30).time()), "office", "office", LONDON, at(7, 20))
        exception_requests.approve(session, agreed, dana, "", at(7, 25))
        declined = exception_requests.request_exception(
            session, staff[name(DECLINED)], "other", "Expecting a parcel",
            Window(DAY, DAY, None, at(17).time()), "kiosk:Hall kiosk", "kiosk", LONDON,
            at(7, 50))
        exception_requests.decline(session, declined, dana, "Not a reason to keep it",
                                   at(8, 5))
        session.commit()


def test_a_simulated_day_ends_with_reports_true_of_what_happened(server, engine):
    started = time.monotonic()
    truth = Truth()
    decide_requests(engine)
    # Approved at 07:25, until 15:30: it covers from her arrival until 15:30.
    truth.exception[name(EXCEPTION)] = (at(7, 25), at(15, 30))

    # --- the morning queue: two kiosks at once, each its own reader ---------------------
    server.set_clock(at(8, 40))
    arrival = {i: at(7, 30) + timedelta(seconds=50 * i) for i in range(STAFF)}
    arrival[DECLINED] = at(8, 10)
    answers: dict[int, list[dict[str, object]]] = {}

    def kiosk_queue(kiosk: int) -> None:
        for i in sorted((i for i in range(STAFF) if i % 2 == kiosk and i not in LATE),
                        key=arrival.__getitem__):
            status, first, _ = server.scan(kiosk, badge(i), arrival[i])
            answers[i] = [first]
            assert status == 200, first
            if i in RESCANS or i == EXCEPTION:  # the same card again, 2 s later
                answers[i].append(server.scan(kiosk, badge(i), arrival[i] + timedelta(
                    seconds=2))[1])

    queues = [threading.Thread(target=kiosk_queue, args=(k,)) for k in (0, 1)]
    for queue in queues:
        queue.start()
    for queue in queues:
        queue.join(60)
    for i in sorted(answers):
        if i == EXCEPTION:
            assert [a["outcome"] for a in answers[i]] == ["on_duty", "already_on_duty"]
            truth.sign_in(name(i), arrival[i])
            continue
        assert answers[i][0]["outcome"] == "deposited", answers[i]
        truth.deposit(name(i), arrival[i])
        if i in RESCANS:
            again = answers[i][1]
            assert (again["outcome"], again["locker"], again["can_confirm"]) == (
                "already_deposited", answers[i][0]["locker"], True)
    assert answers[DECLINED][0]["notice"] == (
        "Your request for today was not agreed. Please ask Dana (SLT) if you need to talk "
        "about it.")
    assert "parcel" not in str(answers[DECLINED]) and "Hughes" not in str(answers[DECLINED])
    assert answers[EXCEPTION][0]["notice"] == "Your request for today was agreed by Dana (SLT)."
    assert all(not a[0].get("notice") for i, a in answers.items()
               if i not in (DECLINED, EXCEPTION))

    # --- a governor with no phone comes for a meeting ----------------------------------
    server.set_clock(at(9, 1))
    assert server.scan(0, GOVERNOR_BADGE, at(9))[1]["outcome"] == "signed_in_no_phone"
    truth.sign_in(GOVERNOR, at(9), no_phone=True)
    server.set_clock(at(11, 1))
    assert server.scan(0, GOVERNOR_BADGE, at(11))[1]["outcome"] == "signed_out_no_phone"
    truth.sign_out(GOVERNOR, at(11))

    # --- lunchtime: the server restarts while three latecomers scan -----------------------
    server.set_clock(at(12, 1))
    first_late = at(12, 1)
    key = uuid.uuid4().hex
    assert server.scan(1, badge(LATE[0]), first_late, key)[1]["outcome"] == "deposited"
    truth.deposit(name(LATE[0]), first_late)
    server.stop()
    queued = [(LATE[0], first_late, key)]  # its answer was lost: the agent sends it again
    for offset, i in enumerate(LATE[1:], start=4):
        when = at(12, offset)
        with pytest.raises(urllib.error.URLError):
            server.scan(1, badge(i), when)
        queued.append((i, when, uuid.uuid4().hex))
    server.set_clock(at(12, 10))
    server.start()
    for i, when, key in queued:  # in order, with their keys and times
        status, body, replayed = server.scan(1, badge(i), when, key)
        assert (status, body["outcome"], replayed) == (200, "deposited", i == LATE[0])
        if i != LATE[0]:
            truth.deposit(name(i), when)

    # --- the afternoon: collections, the 15:45 leaver, phones left behind ---------------
    server.set_clock(at(16, 5))
    leaving = [i for i in range(STAFF) if i not in (EXCEPTION, *LEFT_PHONES)]
    for n, i in enumerate(leaving):
        when = at(15) + timedelta(minutes=n)
        status, body, _ = server.scan(1 if i in LATE else i % 2, badge(i), when)
        assert (status, body["outcome"], body.get("off_duty")) == (200, "collected", True), body
        truth.collect(name(i), when)
    asked = server.scan(0, badge(EXCEPTION), at(15, 45))[1]
    assert (asked["outcome"], asked["choices"]) == ("leave_choice", ["going_home", "lock_away"])
    gone = server.scan(0, badge(EXCEPTION), at(15, 45), choice="going_home")[1]
    assert (gone["outcome"], gone["off_duty"], gone["locker"]) == ("off_duty", True, None)
    truth.sign_out(name(EXCEPTION), at(15, 45))

    # --- the evening ------------------------------------------------------------------------
    server.set_clock(at(17, 11))
    assert server.scan(1, badge(EVENING), at(17, 5))[1]["outcome"] == "deposited"
    truth.deposit(name(EVENING), at(17, 5))
    assert server.scan(0, GOVERNOR_BADGE, at(17, 10))[1]["outcome"] == "signed_in_no_phone"
    truth.sign_in(GOVERNOR, at(17, 10), no_phone=True)

    # --- 17:15: the reports, as the office sees them -----------------------------------------
    server.set_clock(at(17, 15))
    office = Browser(server.url)
    assert office.post("/login", {"username": "office", "password": PASSWORD})[0] == 200

    status, page = office.get("/reports/roll-call")
    assert status == 200
    on_site_part, _, apart = page.partition('id="rc-gone"')
    on_site = set(re.findall(r'class="rc-name">([^<]+)<', on_site_part))
    expected_on_site = {who for who in truth.duty if truth.on_duty(who)
                        and not (truth.in_locker(who) and truth.duty[who][-1][0] < at(17))}
    assert on_site == expected_on_site == {name(EVENING), GOVERNOR}
    assert f"{len(expected_on_site)} people on site" in on_site_part
    may_have_gone = set(re.findall(r'class="rc-name">([^<]+)<', apart))
    assert may_have_gone == {name(i) for i in LEFT_PHONES}
    for i in LEFT_PHONES:
        assert re.search(rf"{name(i)}</span>.*?still in locker \d+ \((Staff room|Hall)\) since "
                         rf"{arrival[i]:%H:%M}: may have gone home", apart, re.S)

    status, text = office.get(f"/reports/daily-log.csv?date={DAY.isoformat()}")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    logged = sorted((r["event"], r["name"], r["time"]) for r in rows
                    if r["event"] in ("deposited", "collected"))
    assert logged == sorted(truth.log)
    still_in = {r["name"] for r in rows if r["event"] == "in locker at 17:00"}
    assert still_in == {who for who, spans in truth.locked.items()
                        if any(s < at(17) and (e is None or e > at(17)) for s, e in spans)}
    assert {r["flag"] for r in rows if r["event"] == "collected"} == {""}

    status, page = office.get("/reports/summaries")
    assert status == 200
    shown = {key: int(re.search(rf"<strong>(\d+)</strong> {words}", page).group(1))
             for key, words in (("on_duty", "staff-days on duty"), ("compliant", "met it"),
                                ("gaps", "with a gap"),
                                ("with_exception", "relied on an exception"))}
    expected = truth.compliance(at(17, 15))
    assert shown == expected
    assert expected == {"on_duty": STAFF + 1, "compliant": STAFF, "gaps": 1,
                        "with_exception": 1}  # the 15:45 leaver: 15 minutes uncovered
    assert time.monotonic() - started < 60
