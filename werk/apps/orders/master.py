"""Master data and order files as an ERP exports them: routings, bills of material, production orders.

Read from CSV (comma or semicolon, UTF-8 with or without BOM) or Excel (.xlsx, first sheet), first row the header.
Pure: text or bytes in, records out. A bad cell raises :class:`MasterDataError` naming the file, the row (as the
spreadsheet numbers it, the header being row 1) and the column (its header, and its letter in Excel); nothing of a
file with an error is taken, so an import is all or nothing.

Columns (case and surrounding spaces do not matter; extra columns are ignored):

- routings: ``product, step, operation, machines, setup_min, run_s`` and optionally ``family`` (setup family).
  ``machines`` lists the eligible assets separated by ``|``; ``run_s`` is seconds per part on each of them, one
  number for all or one per machine in the same order (``42|58``).
- BOM: ``product, component, quantity`` (components per good part) and optionally ``unit``.
- orders: ``order, product, quantity, due`` (ISO 8601; a date alone is its end of day in the plant's timezone, done
  by the caller) and optionally ``priority`` (1 normal, higher is more urgent) and ``release``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from werk.errors import WerkError


class MasterDataError(WerkError, ValueError):
    """A file that cannot be taken as given; the message names file, row and column."""

    def __init__(self, message: str, *, file: str, row: int | None = None, column: str | None = None) -> None:
        where = file + (f" row {row}" if row is not None else "") + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}")
        self.file, self.row, self.column = file, row, column


@dataclass(frozen=True)
class Step:
    """One operation of a routing: eligible machines with the run time per part (s) on each, and the setup (min)."""

    step: int
    operation: str
    run_s: Mapping[str, float]
    setup_min: float = 0.0
    family: str = ""

    def minutes(self, machine: str, quantity: int) -> int:
        """Whole minutes on ``machine`` for ``quantity`` parts, setup included (never 0: a step takes time)."""
        return max(1, math.ceil(self.setup_min + self.run_s[machine] * quantity / 60.0))


@dataclass(frozen=True)
class Routing:
    product: str
    steps: tuple[Step, ...]


def steps_to_json(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """A routing's steps as JSON (stored, and sent to the instance that runs the app)."""
    return [
        {
            "step": s.step,
            "operation": s.operation,
            "run_s": dict(s.run_s),
            "setup_min": s.setup_min,
            "family": s.family,
        }
        for s in steps
    ]


def steps_from_json(rows: Sequence[Mapping[str, Any]]) -> tuple[Step, ...]:
    """The steps :func:`steps_to_json` gave."""
    return tuple(
        Step(
            int(r["step"]),
            str(r["operation"]),
            {str(m): float(v) for m, v in r["run_s"].items()},
            float(r["setup_min"]),
            str(r["family"]),
        )
        for r in rows
    )


@dataclass(frozen=True)
class BomLine:
    product: str
    component: str
    quantity: float
    unit: str = "pcs"


@dataclass(frozen=True)
class OrderLine:
    order: str
    product: str
    quantity: int
    due: datetime
    priority: int = 1
    release: datetime | None = None


@dataclass
class _Rows:
    """Rows of a table with their spreadsheet row numbers and a way to name a column."""

    file: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    excel: bool = False
    letters: dict[str, str] = field(default_factory=dict)

    def col(self, name: str) -> str:
        return f"{name} ({self.letters[name]})" if self.excel and name in self.letters else name

    def error(self, row: int, column: str, message: str) -> MasterDataError:
        return MasterDataError(message, file=self.file, row=row, column=self.col(column))


def _letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def read_table(data: bytes | str, file: str, required: Sequence[str]) -> _Rows:
    """The rows of a CSV or an .xlsx (told apart by the content: xlsx is a zip), header normalised to lower case."""
    if isinstance(data, bytes) and data[:2] == b"PK":
        return _read_xlsx(data, file, required)
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise MasterDataError(
            f"not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 or .xlsx", file=file
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    n = 0  # the last row read whole (the header is row 1)
    try:
        header = [h.strip().lower() for h in next(reader)]
        n, rows = 1, []
        for n, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            rows.append(
                (n, {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)})
            )
    except StopIteration:
        raise MasterDataError("the file is empty; the first row must name the columns", file=file) from None
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte: refused with the row it is in
        raise MasterDataError(str(exc), file=file, row=n + 1) from None
    table = _Rows(file, header, rows)
    _require(table, required)
    return table


def _read_xlsx(data: bytes, file: str, required: Sequence[str]) -> _Rows:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a zip that is no workbook
        raise MasterDataError(f"not a readable Excel workbook ({exc})", file=file) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        header = [str(h or "").strip().lower() for h in next(it)]
    except StopIteration:
        raise MasterDataError("the sheet is empty; the first row must name the columns", file=file) from None
    rows = []
    for n, values in enumerate(it, start=2):
        cells = ["" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)) for v in values]
        if not any(c.strip() for c in cells):
            continue
        rows.append((n, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
    table = _Rows(file, header, rows, excel=True, letters={h: _letter(i) for i, h in enumerate(header)})
    _require(table, required)
    return table


def _require(table: _Rows, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in table.header]
    if missing:
        raise MasterDataError(
            f"missing column(s) {', '.join(missing)}; the header has {', '.join(h for h in table.header if h)}",
            file=table.file,
            row=1,
        )


def _text(t: _Rows, n: int, row: dict[str, str], col: str) -> str:
    v = row.get(col, "")
    if not v:
        raise t.error(n, col, "is empty")
    return v


def _number(
    t: _Rows, n: int, row: dict[str, str], col: str, *, minimum: float = 0.0, default: float | None = None
) -> float:
    v = row.get(col, "")
    if not v and default is not None:
        return default
    try:
        x = float(v.replace(",", ".")) if v.count(",") == 1 and "." not in v else float(v)
    except ValueError:
        raise t.error(n, col, f"{v!r} is not a number") from None
    if not math.isfinite(x) or x < minimum:
        raise t.error(n, col, f"{v!r} must be a number of at least {minimum:g}")
    return x


def _integer(
    t: _Rows, n: int, row: dict[str, str], col: str, *, minimum: int = 0, default: int | None = None
) -> int:
    x = _number(t, n, row, col, minimum=minimum, default=None if default is None else float(default))
    if x != int(x):
        raise t.error(n, col, f"{row.get(col)!r} must be a whole number")
    return int(x)


def _priority(t: _Rows, n: int, row: dict[str, str]) -> int:
    p = _integer(t, n, row, "priority", minimum=1, default=1)
    if p > 100:
        raise t.error(n, "priority", f"{p} is more than 100 (1 normal, higher more urgent)")
    return p


def parse_routings(
    data: bytes | str, file: str = "routings.csv", machines: Sequence[str] | None = None
) -> list[Routing]:
    """Routings by product, steps in order. ``machines``: the plant's assets; a machine not among them is an error."""
    t = read_table(data, file, ("product", "step", "operation", "machines", "setup_min", "run_s"))
    steps: dict[str, dict[int, Step]] = {}
    known = set(machines) if machines is not None else None
    for n, row in t.rows:
        product = _text(t, n, row, "product")
        step = _integer(t, n, row, "step", minimum=1)
        names = [m.strip() for m in _text(t, n, row, "machines").split("|") if m.strip()]
        if known is not None:
            for m in names:
                if m not in known:
                    raise t.error(n, "machines", f"{m!r} is no asset of the plant")
        runs_raw = _text(t, n, row, "run_s").split("|")
        if len(runs_raw) not in (1, len(names)):
            raise t.error(
                n, "run_s", f"{len(runs_raw)} run times for {len(names)} machines: give one, or one each"
            )
        runs = []
        for r in runs_raw:
            runs.append(_number(t, n, {"run_s": r.strip()}, "run_s", minimum=0.001))
        run_s = {m: runs[0] if len(runs) == 1 else runs[i] for i, m in enumerate(names)}
        per = steps.setdefault(product, {})
        if step in per:
            raise t.error(n, "step", f"step {step} of {product!r} appears twice")
        per[step] = Step(
            step,
            _text(t, n, row, "operation"),
            run_s,
            _number(t, n, row, "setup_min", default=0.0),
            row.get("family", ""),
        )
    return [Routing(p, tuple(per[k] for k in sorted(per))) for p, per in steps.items()]


def parse_bom(data: bytes | str, file: str = "bom.csv") -> list[BomLine]:
    t = read_table(data, file, ("product", "component", "quantity"))
    lines = []
    seen: set[tuple[str, str]] = set()
    for n, row in t.rows:
        product, component = _text(t, n, row, "product"), _text(t, n, row, "component")
        if component == product:
            raise t.error(n, "component", f"{product!r} cannot be its own component")
        if (product, component) in seen:
            raise t.error(n, "component", f"{component!r} appears twice in the BOM of {product!r}")
        seen.add((product, component))
        q = _number(t, n, row, "quantity", minimum=0.0)
        if q == 0:
            raise t.error(n, "quantity", "must be more than 0")
        lines.append(BomLine(product, component, q, row.get("unit") or "pcs"))
    return lines


def parse_time(value: str, tz: tzinfo) -> datetime:
    """An ISO 8601 time; a date alone is the end of that day, without a zone the plant's timezone."""
    v = value.strip()
    if len(v) == 10:
        d = datetime.fromisoformat(v).date()
        return datetime.combine(d, time(0), tzinfo=tz) + timedelta(days=1)
    dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def parse_orders(
    data: bytes | str, tz: tzinfo, file: str = "orders.csv", products: Sequence[str] | None = None
) -> list[OrderLine]:
    """Production orders; ``products``: those with a routing (an order for another is an error)."""
    t = read_table(data, file, ("order", "product", "quantity", "due"))
    out = []
    seen: set[str] = set()
    known = set(products) if products is not None else None
    for n, row in t.rows:
        order = _text(t, n, row, "order")
        if order in seen:
            raise t.error(n, "order", f"order {order!r} appears twice")
        seen.add(order)
        product = _text(t, n, row, "product")
        if known is not None and product not in known:
            raise t.error(n, "product", f"{product!r} has no routing; import its routing first")
        times: dict[str, datetime | None] = {}
        for col in ("due", "release"):
            v = row.get(col, "")
            if not v:
                times[col] = None
                continue
            try:
                times[col] = parse_time(v, tz)
            except ValueError:
                raise t.error(
                    n, col, f"{v!r} is not a date or time (ISO 8601: 2026-12-07 or 2026-12-07T14:00)"
                ) from None
        if times["due"] is None:
            raise t.error(n, "due", "is empty")
        out.append(
            OrderLine(
                order,
                product,
                _integer(t, n, row, "quantity", minimum=1),
                times["due"],
                _priority(t, n, row),
                times["release"],
            )
        )
    return out


def iter_components(
    bom: Sequence[BomLine], product: str, quantity: float = 1.0
) -> Iterator[tuple[str, float]]:
    """The direct components of ``quantity`` parts of ``product`` and how many of each."""
    for line in bom:
        if line.product == product:
            yield line.component, line.quantity * quantity
