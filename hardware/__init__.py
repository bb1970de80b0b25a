"""Scanners, badge readers and locker locks, each with a simulated twin. No Flask here.

The entry points are ``open_reader(kind, url, **options)`` and
``open_lock_bank(spec, lockers, **options)``; see ``docs/hardware-design.md``.
"""

from hardware.badges import keyboard_id
from hardware.errors import HardwareError, LockError, LockTimeout, ReaderClosed, ReaderDisconnected
from hardware.locks import DoorState, LockBank, open_lock_bank
from hardware.readers import open_reader

__all__ = [
    "DoorState",
    "HardwareError",
    "LockBank",
    "LockError",
    "LockTimeout",
    "ReaderClosed",
    "ReaderDisconnected",
    "keyboard_id",
    "open_lock_bank",
    "open_reader",
]
