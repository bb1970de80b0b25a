"""Simulated twins of the kiosk's readers, so the product runs and is tested without hardware.

``sim://NAME`` readers (``open_reader("rfid", "sim://door")``) listen on a Unix datagram
socket; every datagram is bytes the real device would have sent and goes through the same
parser. ``send(name, data)`` delivers one, and ``badge_frame_for`` / ``rdm6300_frame`` build
the bytes, so a CLI can "tap a badge": ``send("door", badge_frame_for("0003887558"))``.
The simulated lock bank is ``hardware.locks.SimulatedLockBank``.
"""

from __future__ import annotations

from hardware.badges import card_hex_for
from hardware.errors import ReaderClosed
from hardware.rdm6300 import rdm6300_frame
from hardware.transport import send_datagram, sim_socket_path

__all__ = [
    "ReaderClosed",
    "badge_frame_for",
    "rdm6300_frame",
    "send",
    "sim_socket_path",
]


def send(name: str, data: bytes) -> None:
    """Deliver ``data`` to the ``sim://NAME`` reader as if it came off the device's wire.

    Raises ``HardwareError`` if no reader is listening there (the agent is not running).
    """
    send_datagram(name, data)


def badge_frame_for(badge: str, version: int = 0) -> bytes:
    """A valid RDM6300 frame for the card whose keyboard id is ``badge`` (ten digits)."""
    return rdm6300_frame(card_hex_for(badge, version))
