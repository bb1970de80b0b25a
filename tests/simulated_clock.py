"""The web app under a simulated clock, for tests that run a whole school day in seconds
(tests/test_simulated_day.py). Not a test module: gunicorn imports ``app`` from here.

``register.models.utc_now`` reads ``datetime.now`` from its module at each call, and every
"now" in the app comes from it, so replacing that name moves the app's clock and nothing else.
The clock is the time written in the file named by ``SIMULATED_CLOCK_FILE`` (ISO 8601 with a
zone), running on from when the file was written: every gunicorn worker reads the same clock,
and the test moves it by writing the file.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, tzinfo

import register.models

CLOCK_FILE = os.environ["SIMULATED_CLOCK_FILE"]


class SimulatedDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> SimulatedDatetime:  # type: ignore[override]
        with open(CLOCK_FILE, encoding="utf-8") as clock:
            written = os.fstat(clock.fileno()).st_mtime
            base = datetime.fromisoformat(clock.read().strip())
        moment = base + timedelta(seconds=max(time.time() - written, 0.0))
        return moment.astimezone(tz)  # type: ignore[return-value]


register.models.datetime = SimulatedDatetime  # type: ignore[misc]

from kiosk import create_app  # noqa: E402 (after the clock is in place)

app = create_app()
