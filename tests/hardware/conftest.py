"""Fixtures for driver tests: pseudo-terminals that play devices, a short socket directory."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardware.devices import PtyDevice


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: pytest's tmp_path can exceed a Unix socket's 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="hw", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sim_dir(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIOSK_SIM_DIR", str(short_dir / "sim"))
    return short_dir / "sim"


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    pty = PtyDevice()
    yield pty
    pty.close()
