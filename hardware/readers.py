"""Choosing a reader from configuration: ``open_reader(kind, url, **options)``.

``kind`` says what is on the wire: ``scanner`` (a line-based barcode scanner), ``rfid`` (an
RDM6300 125 kHz badge reader) or ``pn532`` (a PN532 13.56 MHz reader). ``url`` says where:
a device path (``/dev/ttyACM0``), any pyserial URL (``loop://``, ``socket://host:port``) or
``sim://NAME`` for the simulated twin. ``options`` go to the driver's constructor, for
example ``baudrate=115200`` or ``terminators="\\t"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hardware.base import StreamReader
from hardware.pn532 import Pn532Reader
from hardware.rdm6300 import Rdm6300Reader
from hardware.scanner import SerialScanner

# Each driver's constructor takes the URL and its own keyword options.
READER_KINDS: dict[str, Callable[..., StreamReader]] = {
    "scanner": SerialScanner,
    "rfid": Rdm6300Reader,
    "pn532": Pn532Reader,
}


def open_reader(kind: str, url: str, **options: Any) -> StreamReader:
    """Open the reader of ``kind`` at ``url``.

    Raises ``ReaderDisconnected`` when the device is absent or unusable (worth retrying later)
    and ``ValueError`` for a kind or URL that can never work (a configuration mistake).
    """
    try:
        driver = READER_KINDS[kind]
    except KeyError:
        known = ", ".join(READER_KINDS)
        raise ValueError(f"{kind!r} is not a reader kind; use one of {known}.") from None
    return driver(url, **options)
