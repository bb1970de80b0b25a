"""Scanners, badge readers and locker locks, each with a simulated twin. No Flask here.

The entry point is ``open_reader(kind, url, **options)``; see ``docs/hardware-design.md``.
"""

from hardware.badges import keyboard_id
from hardware.errors import HardwareError, LockError, LockTimeout, ReaderClosed, ReaderDisconnected
from hardware.readers import open_reader

__all__ = [
    "HardwareError",
    "LockError",
    "LockTimeout",
    "ReaderClosed",
    "ReaderDisconnected",
    "keyboard_id",
    "open_reader",
]
