"""One exception tree for every device error.

Messages are whole sentences because they end up in the agent's log and on the office screen,
where a technician reads them without the code at hand.
"""

from __future__ import annotations


class HardwareError(Exception):
    """Root of every scanner, badge reader and lock board error."""


class ReaderDisconnected(HardwareError):
    """A reader is missing or has gone away; opening it again later may work."""


class ReaderClosed(HardwareError):
    """Reading from a reader that this program has closed."""


class LockError(HardwareError):
    """A lock board refused, failed or cannot be reached."""


class LockTimeout(LockError):
    """A lock board did not answer in time."""
