"""``python -m bench.pdf``: what the register PDF costs, and which library should draw it.

Each candidate runs in a fresh process, so its peak memory is its own, on the demo school's
register (61 rows) and on 500 people:

- ``baseline``: the same rows written as CSV (no layout, no QR codes): the floor;
- ``reportlab``: the product's PDF (kiosk/pdf.py: ReportLab, QR codes from ``qrcode``);
- ``weasyprint``: the printed page's own HTML and CSS (templates/print/register.html) through
  WeasyPrint, which needs Debian's Pango; skipped, and said so, when it is not installed;
- ``qrcode`` and ``segno``: the QR symbols alone, one per phone.

The rows are built once (the demo school is seeded in memory) and handed to every worker as
a pickle, so each worker's memory is the interpreter, the rows and its own work. Times are the
median of a few runs after a first, cold one (imports, fonts); memory is the process's peak
resident size. Figures are printed with their ratio to the baseline of the same run (and the
time against ReportLab's): trust the ratios over the absolutes on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("baseline", "reportlab", "weasyprint", "qrcode", "segno")


def demo_groups() -> list:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from kiosk import demo
    from register import printing
    from register.models import Base

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        demo.seed(session, ZoneInfo("Europe/London"))
        session.flush()
        rows = printing.register_rows(session, printing.RegisterFilter())
    return printing.group_by_category(rows)


def synthetic_groups(count: int) -> list:
    """``count`` people shaped like a big school's register: some with two IMEIs, some none."""
    from register import printing
    from register.printing import RegisterRow

    when = datetime(2026, 9, 1, tzinfo=UTC)
    categories = [("staff", "Staff"), ("governor", "Governor"), ("visitor", "Visitor")]
    rows = []
    for n in range(count):
        category, label = categories[0] if n % 10 < 8 else categories[1 + n % 2]
        name = f"Person {n:04d} Smith"
        if n % 17 == 0:
            rows.append(RegisterRow(n, name, category, label, True))
            continue
        imeis = (f"35{n:013d}",) + ((f"86{n:013d}",) if n % 6 == 0 else ())
        rows.append(RegisterRow(n, name, category, label, True, device_id=n, make="Apple",
                                model="iPhone 15", imeis=imeis, label_code=f"PH{n:06d}",
                                registered_at=when + timedelta(hours=n),
                                verified_at=when if n % 3 else None,
                                verified_by="office" if n % 3 else None))
    order = {c: i for i, (c, _) in enumerate(categories)}
    return printing.group_by_category(sorted(rows, key=lambda r: (order[r.category], r.name)))


def stamp():
    from kiosk import pdf

    return pdf.Stamp("Demo Community School", "Phone IMEI register",
                     "All categories; active; verified or not", "office",
                     datetime(2026, 11, 25, 8, 0, tzinfo=UTC), ZoneInfo("Europe/London"))


def job(candidate: str, groups: list) -> Callable[[], int]:
    """The work to time; it returns the size of what it made, in bytes."""
    rows = [row for group in groups for row in group.rows]
    codes = [row.label_code for row in rows if row.label_code]
    if candidate == "baseline":
        from register import exports

        return lambda: len(exports.csv_text(
            ["name", "category", "make", "model", "imeis", "label"],
            [[r.name, r.category_label, r.make, r.model, " ".join(r.imeis), r.label_code]
             for r in rows]).encode())
    if candidate == "reportlab":
        from kiosk import pdf, qr

        def reportlab() -> int:
            qr.matrix.cache_clear()  # every run draws its QR codes afresh
            qr.svg.cache_clear()
            return len(pdf.register_pdf(groups, stamp()))

        return reportlab
    if candidate == "weasyprint":
        import weasyprint

        from kiosk import qr

        html = register_html(groups)

        def weasy() -> int:
            return len(weasyprint.HTML(string=html, base_url=str(ROOT)).write_pdf())

        qr.svg.cache_clear()
        return weasy
    if candidate == "qrcode":
        import qrcode

        def with_qrcode() -> int:
            total = 0
            for code in codes:
                symbol = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_H)
                symbol.add_data(code)
                symbol.make(fit=True)
                total += len(symbol.get_matrix())
            return total

        return with_qrcode
    if candidate == "segno":
        import segno

        return lambda: sum(len(segno.make_qr(code, error="h", boost_error=False).matrix)
                           for code in codes)
    raise SystemExit(f"unknown candidate {candidate}")


def register_html(groups: list) -> str:
    """The printed page exactly as the office gets it, with its stylesheets inlined as files."""
    from flask import render_template

    from kiosk import create_app, pdf
    from register.models import Category
    from register.printing import STATUSES, VERIFIED, RegisterFilter

    app = create_app({"TESTING": True, "KIOSK_ENV": "demo",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.test_request_context("/print/register"):
        html = render_template(
            "print/register.html", groups=groups, total=sum(len(g.rows) for g in groups),
            wanted=RegisterFilter(), stamp=stamp(), categories=list(Category),
            statuses=STATUSES, verified=VERIFIED, columns=pdf.COLUMNS, marking=pdf.MARKING)
    static = (ROOT / "kiosk" / "static").as_uri()
    return html.replace('href="/static/', f'href="{static}/')


def worker(candidate: str, dataset: Path, repeats: int) -> dict[str, object]:
    groups = pickle.loads(dataset.read_bytes())
    started = time.perf_counter()
    work = job(candidate, groups)
    size = work()
    cold = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"cold": cold, "warm": statistics.median(times), "peak_kib": peak_kib, "bytes": size}


def measure(candidate: str, dataset: Path, repeats: int) -> dict[str, object] | str:
    """One candidate in a fresh interpreter; an error message if it cannot run here."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.pdf", "--worker", candidate, "--dataset", str(dataset),
         "--repeats", str(repeats)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return f"not measured: {last}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(title: str, results: dict[str, dict[str, object] | str]) -> None:
    base, ours = results["baseline"], results["reportlab"]
    assert isinstance(base, dict) and isinstance(ours, dict), (base, ours)
    print(f"\n{title}")
    print(f"{'candidate':<11} {'first run':>10} {'warm':>9} {'x baseline':>11} {'x ReportLab':>12}"
          f" {'peak RSS':>9} {'x baseline':>11} {'output':>9}")
    for name, result in results.items():
        if isinstance(result, str):
            print(f"{name:<11} {result}")
            continue
        cold, warm = float(str(result["cold"])), float(str(result["warm"]))
        peak, size = int(str(result["peak_kib"])), int(str(result["bytes"]))
        print(f"{name:<11} {cold:>9.3f}s {warm:>8.3f}s {warm / float(str(base['warm'])):>10.0f}x "
              f"{warm / float(str(ours['warm'])):>11.2f}x {peak / 1024:>5.0f} MiB "
              f"{peak / int(str(base['peak_kib'])):>10.2f}x {size / 1024:>5.0f} KiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pdf", description=__doc__.split("\n")[0])
    parser.add_argument("--worker", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per candidate")
    parser.add_argument("--people", type=int, default=500, help="the large register's size")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.dataset), args.repeats)))
        return
    print(f"Python {sys.version.split()[0]}; each candidate in a fresh process; ratios are "
          "against the baseline (the same rows as CSV) in this run")
    datasets = {"demo school's register": demo_groups(),
                f"{args.people} people": synthetic_groups(args.people)}
    with tempfile.TemporaryDirectory() as folder:
        for title, groups in datasets.items():
            path = Path(folder) / "rows.pickle"
            path.write_bytes(pickle.dumps(groups))
            rows = sum(len(g.rows) for g in groups)
            report(f"{title}: {rows} rows",
                   {name: measure(name, path, args.repeats) for name in CANDIDATES})


if __name__ == "__main__":
    main()
