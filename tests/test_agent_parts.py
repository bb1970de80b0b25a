"""The kiosk agent's small parts: backoff, what its log shows, driver options from the CLI."""

from __future__ import annotations

import logging

import click
import pytest

from hardware.service import AgentSettings, Backoff, KioskAgent, describe_answer, shown
from kiosk.cli import driver_options


def test_backoff_doubles_up_to_its_limit_and_starts_again_on_reset():
    backoff = Backoff(0.5, 10)
    assert [backoff.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next() == 0.5


def test_the_log_shows_what_the_web_app_did_with_a_scan():
    assert describe_answer({"outcome": "deposited", "locker": 3}) == "deposited locker 3"
    assert describe_answer({"outcome": "collected", "locker": 12}) == "collected locker 12"
    assert describe_answer({"outcome": "choose", "choices": [{}, {}]}) == (
        "asked which phone (2 choices)")
    assert describe_answer({"outcome": "refused", "reason": "unknown",
                            "message": "Code not recognised."}) == (
        "refused (unknown): Code not recognised.")


def test_the_log_shows_labels_and_badges_but_only_the_end_of_an_imei():
    assert shown("PH7K3M9Q") == "PH7K3M9Q"
    assert shown("0003887558") == "0003887558"
    assert shown("490154203237518") == "IMEI …7518"


def test_driver_options_from_the_command_line_are_typed():
    assert driver_options(("baudrate=115200", "closed_bit_set=false", "unlock_answered=yes",
                           "reply_timeout=0.5", r"terminators=\r\n", "door_pins=5,6,13")) == {
        "baudrate": 115200, "closed_bit_set": False, "unlock_answered": True,
        "reply_timeout": 0.5, "terminators": "\r\n", "door_pins": "5,6,13"}
    with pytest.raises(click.BadParameter):
        driver_options(("baudrate",))


def test_a_reader_url_that_can_never_work_is_reported_not_retried(tmp_path, caplog):
    settings = AgentSettings(token="t", server="http://127.0.0.1:9", queue=tmp_path / "q",
                             readers={"scanner": "sim://no/such"}, heartbeat_seconds=60)
    with caplog.at_level(logging.ERROR), KioskAgent(settings) as agent:
        agent.readers["scanner"].thread.join(timeout=5)
        assert not agent.readers["scanner"].thread.is_alive()
        assert "not a simulated device name" in agent.readers["scanner"].state.detail
    assert "not a simulated device name" in caplog.text
