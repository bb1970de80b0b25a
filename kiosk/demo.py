"""A believable demo school: stakeholders in every category, two locker banks, test IMEIs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from register import accounts, compliance, exception_requests, kiosks, people, policy, settings
from register.exception_requests import Window
from register.imei import luhn_check_digit
from register.models import (
    Category,
    Device,
    ExceptionRequest,
    Kiosk,
    LockerBank,
    Person,
    PolicyAcknowledgement,
    User,
    utc_now,
)

PASSWORD = "demo-password"
BANKS = {"Staff room": "Ground floor, by the staff room", "Reception": "Main reception"}
KIOSKS = {"Staff room kiosk": "Staff room", "Reception kiosk": "Reception"}

FIRST = ["Amelia", "Olivia", "Isla", "Ava", "Mia", "Priya", "Siobhán", "Zoë", "Aisha", "Grace",
         "Fatima", "Chloe", "Emily", "Hannah", "Niamh", "Oliver", "George", "Harry", "Noah",
         "Jack", "Mohammed", "Arjun", "Rhys", "Tomasz", "Kwame", "Daniel", "Samuel", "Callum",
         "Ewan", "Joseph"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Patel", "Khan",
        "Ó Súilleabháin", "Nowak", "Okafor", "Campbell", "Hughes", "Murphy", "Davies", "Begum",
        "Roberts", "Walker", "Wright", "Thompson", "Clarke", "Mensah", "Singh", "Lewis"]
PHONES = [("Apple", "iPhone 15"), ("Apple", "iPhone 13"), ("Apple", "iPhone SE"),
          ("Samsung", "Galaxy S24"), ("Samsung", "Galaxy A54"), ("Google", "Pixel 8"),
          ("Motorola", "moto g84"), ("Nokia", "G42"), ("OnePlus", "Nord 3"), ("Xiaomi", "Redmi 13")]
# How many of each category the demo school has (60 people in all).
MIX = {Category.STAFF: 34, Category.GOVERNOR: 5, Category.VISITOR: 4, Category.PARENT: 4,
       Category.AGENCY: 3, Category.STUDENT: 4, Category.VOLUNTEER: 4, Category.CONTRACTOR: 2}


def test_imei(rng: random.Random) -> str:
    """Valid by Luhn, with reporting-body prefix 00: a test IMEI no real phone has."""
    body = "00" + "".join(rng.choice("0123456789") for _ in range(12))
    return body + str(luhn_check_digit(body))


def seed(session: Session, zone: tzinfo, now: datetime | None = None) -> bool:
    """Fill an empty database; leave one with people in it alone. True if it seeded."""
    if session.scalar(select(func.count()).select_from(Person)):
        return False
    rng = random.Random(2026)
    for name, location in BANKS.items():
        people.add_bank(session, name, 24, "demo", location)
    for username, role in (("admin", "admin"), ("office", "office"), ("slt", "slt")):
        accounts.create_user(session, username, PASSWORD, role)
    names = rng.sample([f"{f} {last}" for f in FIRST for last in LAST], sum(MIX.values()))
    staff_room = session.scalar(select(LockerBank).where(LockerBank.name == "Staff room"))
    assert staff_room is not None
    when = utc_now() - timedelta(days=120)
    number = 0
    for category, count in MIX.items():
        for _ in range(count):
            number += 1
            name = names[number - 1]
            badge = f"{rng.randrange(10**9):010d}" if category == Category.STAFF else None
            # The first ten staff have their own locker, the rest use any free one.
            fixed = staff_room.lockers[number - 1].id if number <= 10 else None
            person = people.add_person(session, people.PersonDetails(
                name=name, category=category, badge_id=badge, fixed_locker_id=fixed), "demo")
            if category in (Category.VISITOR, Category.PARENT) and number % 2:
                continue  # not every visitor has registered a phone
            make, model = rng.choice(PHONES)
            dual = rng.random() < 0.15
            device = people.register_device(session, person, people.DeviceDetails(
                imei=test_imei(rng), imei2=test_imei(rng) if dual else "",
                make=make, model=model), "office", now=when + timedelta(days=number))
            if number == 12:  # one teacher carries a work phone too: the kiosk asks which
                people.register_device(session, person, people.DeviceDetails(
                    imei=test_imei(rng), make="Nokia", model="105 (school on-call)"), "office")
            if rng.random() < 0.7:
                people.verify_device(session, device, "office",
                                     now=device.registered_at + timedelta(hours=1))
    for kiosk_name, bank in KIOSKS.items():
        kiosks.create_kiosk(session, kiosk_name, bank, "demo")
    session.flush()
    _seed_exceptions(session, zone, now or utc_now())
    _seed_policy(session, zone, now or utc_now())
    return True


def _seed_exceptions(session: Session, zone: tzinfo, now: datetime) -> None:
    """Two SLT members who are staff too, and a morning's requests, so the tablet has
    something to decide: one of them is slt's own, and one needs two approvals."""
    staff = session.scalars(select(Person).where(Person.category == Category.STAFF)
                            .order_by(Person.id)).all()
    slt = session.scalars(select(User).where(User.username == "slt")).one()
    slt.person_id = staff[10].id
    deputy = accounts.create_user(session, "deputy", PASSWORD, "slt")
    deputy.person_id = staff[12].id
    settings.put(session, settings.SECOND_APPROVER_CATEGORIES, "caring", "demo")
    session.flush()
    local = now.astimezone(zone)
    today = local.date()

    def ask(person: Person, category: str, reason: str, window: Window, minutes_ago: int,
            via: str = "kiosk") -> ExceptionRequest:
        by = "kiosk:Staff room kiosk" if via == "kiosk" else "office"
        return exception_requests.request_exception(
            session, person, category, reason, window, by, via, zone,
            now - timedelta(minutes=minutes_ago))

    ask(staff[14], "emergency",
        "My father has been taken into hospital; the ward may call about his discharge",
        _until_half_three(local), 12)
    trip = _next_weekday(today + timedelta(days=1))
    ask(staff[15], "offsite", "Leading the Year 6 trip to the Science Museum; the coach "
        "company and parents need to reach me", Window(trip, trip), 25, via="office")
    ask(staff[10], "caring", "Carer for my mother on Tuesdays; her care agency calls if a "
        "visit is missed", Window(today, today + timedelta(days=56), time(8), time(16), "1"), 5)
    on_call = ask(staff[16], "on_call", "Site on call while the site manager is on leave: the "
                  "alarm company and contractors ring me", Window(today, today + timedelta(
                      days=4)), 60 * 20, via="office")
    exception_requests.approve(session, on_call, deputy,
                               "Silent; answered only in the corridor or the staff room",
                               now - timedelta(hours=19))


# The school's own policy, as the office has it on paper (register/data/demo-policy.txt), and
# the few sentences the kiosk shows of it.
POLICY_TEXT = Path(__file__).resolve().parent.parent / "register" / "data" / "demo-policy.txt"
POLICY_TITLE = "Safer use of social media and mobile phones"
POLICY_SUMMARY = (
    "Phones are switched off and locked away while you are on duty, unless SLT have agreed "
    "an exception with you. Never use your own phone to contact pupils or parents, and keep "
    "your personal number, e-mail and social media private from them: do not 'friend' "
    "pupils or parents. Keep a record of your phone's IMEI and keep it secure on site. "
    "Report anything that could be misread, and any cyber bullying, to the head teacher.")
# Who had acknowledged this year's version by the time the demo starts, by category: most
# staff at the kiosk, some visitors and contractors on paper at the office.
POLICY_READ = {Category.STAFF: 0.75, Category.GOVERNOR: 0.6, Category.VISITOR: 0.5,
               Category.PARENT: 0.25, Category.AGENCY: 0.7, Category.STUDENT: 0.5,
               Category.VOLUNTEER: 0.5, Category.CONTRACTOR: 0.5}
ON_PAPER = {Category.VISITOR, Category.PARENT, Category.CONTRACTOR, Category.AGENCY}


def _seed_policy(session: Session, zone: tzinfo, now: datetime) -> None:
    """Last year's version, read by everyone; this school year's, adopted on 1 September and
    read by most. The first three staff (the kiosk's demo badges) have not read it yet: the
    kiosk asks them at their next scan."""
    this_year, _ = compliance.school_year_containing(now.astimezone(zone).date())
    everyone = session.scalars(select(Person).order_by(Person.id)).all()
    not_yet = {p.id for p in everyone if p.category == Category.STAFF and p.badge_id}
    not_yet = set(sorted(not_yet)[:3])
    rng = random.Random(11)
    last_year = list(everyone)
    this_years = [p for p in everyone if p.id not in not_yet
                  and rng.random() < POLICY_READ[Category(p.category)]]
    for first_day, readers in ((this_year.replace(year=this_year.year - 1), last_year),
                               (this_year, this_years)):
        _publish_and_read(session, first_day, readers, zone, now)


def _publish_and_read(session: Session, first_day: date, readers: list[Person], zone: tzinfo,
                      now: datetime) -> None:
    # The history is written as it stands, and the audit trail says only that the demo was
    # seeded now: entries dated back months would read as inserted out of order (audit-verify).
    version = policy.publish_version(
        session, POLICY_TITLE, f"{first_day.year}-{(first_day.year + 1) % 100:02d}", first_day,
        POLICY_SUMMARY, POLICY_TEXT.read_text(encoding="utf-8"), "admin", now)
    version.published_at = published_at = min(datetime.combine(first_day, time(16), zone), now)
    staff_kiosk = session.scalars(select(Kiosk).where(Kiosk.name == "Staff room kiosk")).one()
    step = (now - published_at) / (len(readers) + 1)
    for number, person in enumerate(readers, 1):
        at = published_at + step * number  # spread over the weeks since it was published
        on_paper = person.category in ON_PAPER
        session.add(PolicyAcknowledgement(
            person_id=person.id, policy_version_id=version.id, at=at,
            via=policy.OFFICE if on_paper else policy.KIOSK,
            kiosk_id=None if on_paper else staff_kiosk.id,
            recorded_by="office" if on_paper else f"kiosk:{staff_kiosk.id}"))


def _until_half_three(local: datetime) -> Window:
    """Today until 15:30, or tomorrow's if the demo is seeded late in the day."""
    if local.time() < time(15):
        return Window.today_until(local, time(15, 30))
    tomorrow = local.date() + timedelta(days=1)
    return Window(tomorrow, tomorrow, None, time(15, 30))


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class DemoKiosk:
    agent_token: str
    code: kiosks.PairingCode


def fresh_kiosk_links(session: Session) -> dict[str, DemoKiosk]:
    """A new agent token and pairing code for each demo kiosk, so ``make run`` can hand the
    agent its token and print a working pairing link every time."""
    found = session.scalars(select(Kiosk).where(Kiosk.name.in_(KIOSKS)).order_by(Kiosk.name))
    links = {}
    for kiosk in found:
        code = kiosks.start_pairing(session, kiosk, "demo")  # a revoked one gets a new token
        token = code.agent_token or kiosks.reissue_kiosk_token(session, kiosk, "demo")
        links[kiosk.name] = DemoKiosk(token, code)
    return links


def sample_codes(session: Session, limit: int = 3) -> list[str]:
    codes = session.scalars(
        select(Device.label_code).where(Device.retired_at.is_(None)).order_by(Device.id)
        .limit(limit)
    )
    return list(codes)


def sample_imei(session: Session) -> tuple[str, str] | None:
    """A registered phone's IMEI, as typed at the kiosk's keypad, and whose phone it is."""
    device = session.scalars(
        select(Device).join(Device.owner)
        .where(Device.retired_at.is_(None), Person.active)
        .order_by(Device.id).limit(1)
    ).first()
    return (device.imei, f"{device.owner.first_name}'s phone") if device else None


def kiosk_samples(session: Session) -> list[tuple[str, str]]:
    """Codes a stranger can tap on the demo kiosk to see each outcome."""
    samples: list[tuple[str, str]] = []
    staff = session.scalars(
        select(Person).where(Person.badge_id.is_not(None), Person.active).order_by(Person.id)
    ).all()
    one_phone = next((p for p in staff if len(p.current_devices) == 1), None)
    two_phones = next((p for p in staff if len(p.current_devices) > 1), None)
    if one_phone:
        samples.append((f"{one_phone.first_name}'s badge", one_phone.badge_id or ""))
        samples.append((f"{one_phone.first_name}'s phone",
                        one_phone.current_devices[0].label_code))
    if two_phones:
        samples.append((f"{two_phones.first_name} (2 phones)", two_phones.badge_id or ""))
    samples.append(("Mistyped IMEI", "490154203237517"))
    return samples
