"""Master data and order files (werk.apps.orders.master) and the order book's state from counters (book.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from werk.apps.orders.book import OrderBook
from werk.apps.orders.master import MasterDataError, parse_bom, parse_orders, parse_routings

BERLIN = ZoneInfo("Europe/Berlin")
ROUTINGS = """product,step,operation,machines,setup_min,run_s
HSG-100,1,milling,cnc-1|cnc-2,15,42|58
HSG-100,2,assembly,assembly-1,5,95
SHF-010,1,turning,lathe-1,10,31
"""


def test_routings_are_read_in_step_order_with_a_run_time_per_machine() -> None:
    routings = {
        r.product: r for r in parse_routings(ROUTINGS, machines=["cnc-1", "cnc-2", "assembly-1", "lathe-1"])
    }
    hsg = routings["HSG-100"]
    assert [s.operation for s in hsg.steps] == ["milling", "assembly"]
    assert hsg.steps[0].run_s == {"cnc-1": 42.0, "cnc-2": 58.0}
    # 100 parts at 42 s plus 15 min of setup: 70 + 15 = 85 min
    assert hsg.steps[0].minutes("cnc-1", 100) == 85


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            ROUTINGS + "SHF-020,1,turning,lathe-1,10,abc\n",
            "routings.csv row 5, column run_s: 'abc' is not a number",
        ),
        (
            ROUTINGS + "SHF-020,1,turning,lathe-9,10,30\n",
            "routings.csv row 5, column machines: 'lathe-9' is no asset",
        ),
        (
            ROUTINGS + "SHF-010,1,turning,lathe-1,10,30\n",
            "routings.csv row 5, column step: step 1 of 'SHF-010' appears",
        ),
        (
            ROUTINGS + "SHF-020,1,turning,lathe-1|cnc-1,10,1|2|3\n",
            "row 5, column run_s: 3 run times for 2 machines",
        ),
        (
            "product;step;operation\nX;1;y\n",
            "routings.csv row 1: missing column(s) machines, setup_min, run_s",
        ),
    ],
)
def test_a_bad_routing_cell_is_refused_naming_row_and_column(text: str, where: str) -> None:
    with pytest.raises(MasterDataError) as err:
        parse_routings(text, machines=["cnc-1", "cnc-2", "assembly-1", "lathe-1"])
    assert where in str(err.value)


def test_an_excel_error_names_the_column_by_its_header_and_letter() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["order", "product", "quantity", "due"])
    ws.append(["A-1", "HSG-100", 10, datetime(2026, 12, 8, 12, 0)])
    ws.append(["A-2", "HSG-100", -5, datetime(2026, 12, 8, 12, 0)])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(MasterDataError, match=r"orders.xlsx row 3, column quantity \(C\): '-5' must be"):
        parse_orders(buf.getvalue(), BERLIN, "orders.xlsx", ["HSG-100"])
    ws["C3"] = 5
    buf = io.BytesIO()
    wb.save(buf)
    lines = parse_orders(buf.getvalue(), BERLIN, "orders.xlsx", ["HSG-100"])
    assert [(x.order, x.quantity) for x in lines] == [("A-1", 10), ("A-2", 5)]
    assert lines[0].due == datetime(2026, 12, 8, 12, 0, tzinfo=BERLIN)


def test_orders_refuse_an_unknown_product_a_bad_date_and_a_duplicate() -> None:
    head = "order;product;quantity;due;priority\n"
    with pytest.raises(MasterDataError, match="row 2, column product: 'XYZ' has no routing"):
        parse_orders(head + "A;XYZ;5;2026-12-08;1\n", BERLIN, products=["HSG-100"])
    with pytest.raises(MasterDataError, match=r"row 2, column due: '08\.12\.2026' is not a date"):
        parse_orders(head + "A;HSG-100;5;08.12.2026;1\n", BERLIN, products=["HSG-100"])
    with pytest.raises(MasterDataError, match="row 3, column order: order 'A' appears twice"):
        parse_orders(
            head + "A;HSG-100;5;2026-12-08;1\nA;HSG-100;5;2026-12-08;1\n", BERLIN, products=["HSG-100"]
        )
    huge = "x" * 200_000  # over the csv module's field limit: refused with its row, not a server error
    with pytest.raises(MasterDataError, match="row 3: field larger than field limit"):
        parse_orders(head + "A;HSG-100;5;2026-12-08;1\n" + huge + "\n", BERLIN, products=["HSG-100"])
    with pytest.raises(MasterDataError, match="not UTF-8 text"):
        parse_orders(b"\xff\xfe\x00", BERLIN, products=["HSG-100"])
    with pytest.raises(MasterDataError, match="row 1: field larger"):
        parse_orders(huge + "\n", BERLIN, products=["HSG-100"])
    (line,) = parse_orders(head + "A;HSG-100;5;2026-12-08;2\n", BERLIN, products=["HSG-100"])
    assert line.due == datetime(2026, 12, 9, tzinfo=BERLIN)  # a date alone: the end of that day
    assert line.priority == 2


def test_a_bom_refuses_a_product_in_its_own_bom() -> None:
    assert parse_bom("product,component,quantity\nHSG-100,BAR-50,1.5\n")[0].quantity == 1.5
    with pytest.raises(MasterDataError, match="row 2, column component: 'P' cannot be its own component"):
        parse_bom("product,component,quantity\nP,P,1\n")


def test_counter_increases_move_an_order_from_released_to_started_to_finished() -> None:
    book = OrderBook(parse_routings(ROUTINGS))
    t0 = datetime(2026, 12, 7, 6, tzinfo=UTC)
    (line,) = parse_orders("order,product,quantity,due\nA-1,HSG-100,3,2026-12-08\n", BERLIN)
    book.release([line])
    order = book.orders["A-1"]
    assert order.state == "released"
    assert book.book("lathe-1", "HSG-100", 1, 0, t0) is None  # no step of HSG-100 on the lathe
    b = book.book("cnc-2", "HSG-100", 2, 1, t0)
    assert b is not None and (b.order, b.step, b.last_step) == ("A-1", 1, False)
    assert order.state == "started" and order.started == t0 and order.scrap == 1
    book.book("cnc-1", "HSG-100", 1, 0, t0 + timedelta(minutes=1))
    assert order.step_done(1)
    assert order.parts_done(2) == 0 and order.wip([1, 2]) == 3  # milled, not yet assembled: between machines
    for k in range(3):
        last = book.book("assembly-1", "HSG-100", 1, 0, t0 + timedelta(minutes=2 + k))
    assert last is not None and last.last_step
    assert order.state == "finished" and order.parts_done(2) == 3
    assert order.finished == t0 + timedelta(minutes=4)
    # the plan's problem has nothing left of a finished order
    assert book.problem(t0).jobs == ()


def test_measured_run_times_replace_the_routings_once_enough_parts_were_seen() -> None:
    book = OrderBook(parse_routings(ROUTINGS), learn_after=3)
    t0 = datetime(2026, 12, 7, 6, tzinfo=UTC)
    (line,) = parse_orders("order,product,quantity,due\nA-1,HSG-100,100,2026-12-09\n", BERLIN)
    book.release([line])
    # cnc-1 makes a part every 30 s (the routing says 42), with a 10-minute stop after the third
    times = [0, 30, 60, 90, 690, 720]
    for s in times:
        book.book("cnc-1", "HSG-100", 1, 0, t0 + timedelta(seconds=s))
    seen = book.actual[("HSG-100", 1, "cnc-1")]
    assert seen.parts == 4 and seen.mean_s == 30.0  # the stop is no cycle
    assert book.run_s("HSG-100", 1, "cnc-1") == 30.0
    assert book.run_s("HSG-100", 1, "cnc-2") == 58.0  # nothing seen there: the routing's
    (job,) = book.problem(t0).jobs
    # 94 parts left at 30 s plus 15 min setup: 47 + 15 = 62 min; on cnc-2 at the routing's 58 s: 91 + 15 = 106
    assert dict(job.operations[0].durations) == {"cnc-1": 62, "cnc-2": 106}
    assert OrderBook(parse_routings(ROUTINGS)).learn_after == 0  # learning is off unless asked for
