"""The kiosk agent's durable queue: order, acknowledgement, and surviving a kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

from hardware.outbox import Outbox


def test_entries_come_out_in_order_until_acknowledged(tmp_path):
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        first = outbox.put("0003887558", "rfid")
        second = outbox.put("PH7K3M9Q", "scanner",
                            scanned_at=datetime(2026, 11, 25, 8, 2, 11, tzinfo=UTC))
        assert len(outbox) == 2
        assert outbox.peek() == [first]
        assert outbox.peek(5) == [first, second]
        assert outbox.peek() == [first], "peeking removes nothing"
        assert second.scanned_at == "2026-11-25T08:02:11.000+00:00"
        assert first.key != second.key and len(first.key) == 32

        outbox.ack(first.id)
        assert outbox.peek(5) == [second]
        outbox.ack(second.id)
        outbox.ack(second.id)  # acknowledging twice is harmless
        assert outbox.peek() == [] and len(outbox) == 0
        third = outbox.put("PH2", "scanner")
        assert third.id > second.id, "ids are never reused, so order holds across acks"
    assert "closed" in repr(outbox)


def test_the_file_is_wal_with_full_sync(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.put("X1", "scanner")
        outbox.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


CHILD = textwrap.dedent("""
    import sys, time
    from hardware.outbox import Outbox

    outbox = Outbox(sys.argv[1])
    for code in ("A1", "B2", "C3"):
        outbox.put(code, "scanner")
        print("put", code, flush=True)
    outbox.ack(outbox.peek()[0].id)
    print("acked", flush=True)
    time.sleep(60)
""")


def test_what_was_put_survives_the_process_being_killed(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        lines = [child.stdout.readline().strip() for _ in range(4)]
        assert lines == ["put A1", "put B2", "put C3", "acked"]
    finally:
        child.send_signal(signal.SIGKILL)  # no close, no checkpoint: the WAL is all there is
        child.wait(10)

    with Outbox(path) as outbox:
        assert [entry.code for entry in outbox.peek(10)] == ["B2", "C3"]
        assert outbox.put("D4", "rfid").id == 4
        assert [entry.code for entry in outbox.peek(10)] == ["B2", "C3", "D4"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
