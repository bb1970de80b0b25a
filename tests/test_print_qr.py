"""QR codes are made once per label code and kept on disk: what the store holds, that a page
printed again reads it instead of making codes, and that what is drawn scans as the code."""

from __future__ import annotations

import re
import sqlite3

import pytest
import qrcode
import zxingcpp
from PIL import Image

from kiosk import qr

CODES = ["PH7K3M9Q", "PH000000", "PHZZZZZZ"]


@pytest.fixture(autouse=True)
def _fresh_memory():
    """Each test starts with nothing made in this process."""
    qr.drawn.cache_clear()
    qr.svg.cache_clear()
    qr.prepare([], None)
    yield
    qr.drawn.cache_clear()
    qr.svg.cache_clear()


@pytest.fixture
def store(tmp_path) -> qr.QrStore:
    return qr.QrStore(tmp_path / "qr-codes.sqlite3")


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """The codes ``qr.make`` was asked for, in order."""
    calls: list[str] = []
    real = qr.make

    def counting(code: str) -> qr.Drawn:
        calls.append(code)
        return real(code)

    monkeypatch.setattr(qr, "make", counting)
    return calls


def stored(store: qr.QrStore) -> dict[str, str]:
    with sqlite3.connect(store.path) as connection:
        return dict(connection.execute(f"SELECT code, path FROM {store.TABLE}"))


def symbol_of(code: str) -> str:
    """The symbol as the ``qrcode`` package makes it, rows of "1" (dark) and "0"."""
    encoder = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_H)
    encoder.add_data(code)
    encoder.make(fit=True)
    return "\n".join("".join("1" if m else "0" for m in row) for row in encoder.get_matrix())


def symbol_of_runs(runs: list[tuple[int, int, int]], side: int) -> str:
    grid = [["0"] * side for _ in range(side)]
    for row, column, length in runs:
        grid[row][column:column + length] = ["1"] * length
    return "\n".join("".join(row) for row in grid)


def scanned(image: Image.Image) -> list[str]:
    return [c.text for c in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def picture_of_symbol(symbol: str, scale: int = 8) -> Image.Image:
    """The rows of modules as a scanner sees them: black on white, with a quiet zone."""
    rows = symbol.split("\n")
    image = Image.new("L", ((len(rows) + 8) * scale,) * 2, 255)
    for y, row in enumerate(rows):
        for x, module in enumerate(row):
            if module == "1":
                image.paste(0, ((x + 4) * scale, (y + 4) * scale,
                                (x + 5) * scale, (y + 5) * scale))
    return image


def modules_of_svg(markup: str) -> str:
    """Read our SVG's path back into rows of modules: absolute and relative moves, each
    followed by a horizontal stroke one module high."""
    side = int(re.search(r'viewBox="0 0 (\d+) \d+"', markup)[1])
    path = re.search(r' d="([^"]+)"', markup)[1]
    grid = [["0"] * side for _ in range(side)]
    x = y = 0.0
    for move, dx, dy, length in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", path):
        x, y = (float(dx), float(dy)) if move == "M" else (x + float(dx), y + float(dy))
        for column in range(int(x), int(x) + int(length)):
            grid[int(y)][column] = "1"
        x += int(length)
    return "\n".join("".join(row) for row in grid)


def test_a_code_is_made_once_then_read_from_the_store(store, made):
    assert qr.prepare(CODES, store) == 3
    assert made == CODES
    assert set(stored(store)) == set(CODES)

    qr.drawn.cache_clear()  # a new worker: nothing in memory, the file on disk
    assert qr.prepare([*CODES, "PHNEW123"], store) == 1
    assert made == [*CODES, "PHNEW123"]  # only the new one was made
    assert qr.side("PH7K3M9Q") == 21 and stored(store)["PH7K3M9Q"] == qr.drawn("PH7K3M9Q").path


@pytest.mark.parametrize("code", CODES)
def test_what_is_stored_draws_the_symbol_and_scans_as_the_label_code(store, code):
    qr.prepare([code], store)
    qr.drawn.cache_clear()
    qr.prepare([code], store)  # read back from the file
    expected = symbol_of(code)
    assert symbol_of_runs(qr.runs(code), qr.side(code)) == expected  # what the PDF draws
    assert modules_of_svg(qr.svg(code, "12mm")) == expected  # what the page draws
    assert scanned(picture_of_symbol(expected)) == [code]


def test_codes_are_stored_in_batches_so_an_interrupted_first_print_keeps_its_work(
        store, monkeypatch):
    real = qr.make

    def dies_on_the_fourth(code: str) -> qr.Drawn:
        if code == "PH000004":
            raise TimeoutError("the worker was killed")
        return real(code)

    monkeypatch.setattr(qr, "SAVE_EVERY", 2)
    monkeypatch.setattr(qr, "make", dies_on_the_fourth)
    with pytest.raises(TimeoutError):
        qr.prepare([f"PH00000{n}" for n in range(1, 6)], store)
    assert set(stored(store)) == {"PH000001", "PH000002"}  # the first batch was written


def test_an_unusable_store_still_draws_every_code(tmp_path, made):
    broken = qr.QrStore(tmp_path / "no-such-folder" / "qr-codes.sqlite3")
    assert qr.prepare(CODES, broken) == 3
    code = CODES[0]
    assert scanned(picture_of_symbol(symbol_of_runs(qr.runs(code), qr.side(code)))) == [code]


def test_the_register_page_fills_the_store_and_then_reuses_it(app, client, auth, web_school,
                                                              tmp_path, monkeypatch, made):
    store = qr.QrStore(tmp_path / "qr-codes.sqlite3")
    app.extensions["qr_codes"] = store
    codes = {web_school.alice_phone.label_code, web_school.bob_phone.label_code,
             web_school.bob_work_phone.label_code, web_school.carol_phone.label_code}
    auth.login("office")
    first = client.get("/print/register").get_data(as_text=True)
    assert set(stored(store)) == codes and sorted(made) == sorted(codes)

    qr.drawn.cache_clear()  # as a new worker would start
    qr.svg.cache_clear()

    def refuse(code: str) -> qr.Drawn:
        raise AssertionError(f"{code} made again")

    monkeypatch.setattr(qr, "make", refuse)
    second = client.get("/print/register").get_data(as_text=True)
    qr_svgs = re.compile(r'<svg class="qr".*?</svg>')
    assert qr_svgs.findall(second) == qr_svgs.findall(first) and len(qr_svgs.findall(first)) == 4
    assert client.get("/print/register.pdf").status_code == 200  # the PDF reads it too
