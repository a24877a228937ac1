"""The simulator's meters behave like real ones when told to (a rollover, an exchange, leaks that raise a
compressor's draw), and the energy app's arithmetic books exactly the machine's true energy through all of it."""

from __future__ import annotations

import random

import pytest

from werk.apps.energy.meter import MeterEvent, book_counter
from werk.sim.config import SimAssetConfig, SimMeterConfig
from werk.sim.machine import MachineModel


def _run(meter: SimMeterConfig, hours: float) -> tuple[MachineModel, list[tuple[float, float]], list[float]]:
    cfg = SimAssetConfig(model="compressor", cycle_s=60, rated_power_kw=37, meter=meter)
    m = MachineModel("compressor-1", cfg, random.Random(3))
    readings, power = [], []
    for _ in range(int(hours * 3600)):
        m.step(1.0)
        v = m.values()
        readings.append((m.t, float(v["energy"])))
        power.append(float(v["power"]))
    return m, readings, power


def test_a_rolling_over_exchanged_meter_books_the_machines_true_energy() -> None:
    meter = SimMeterConfig(modulus=100_000.0, start_kwh=99_990.0, exchange_after_s=3 * 3600)
    m, readings, _ = _run(meter, 5)
    values = [v for _, v in readings]
    assert min(values) < 50 < 99_990 < max(values)  # it rolled over, and restarted at the exchange
    (exchange,) = m.meter_exchanges
    truth = m.energy_kwh - (readings[0][1] - 99_990.0)  # energy from the first reading to the last
    events = [MeterEvent(exchange[0], "exchange", exchange[1], exchange[2])]
    booked = book_counter(readings, modulus=100_000.0, events=events, max_kw=37 * 1.5)
    assert booked.anomalies == []
    assert booked.total == pytest.approx(truth, abs=2e-3)  # the register's 0.1 Wh rounding, twice
    # nobody recorded the exchange: the drop is held back and shown, nothing phantom is booked
    unrecorded = book_counter(readings, modulus=100_000.0, max_kw=37 * 1.5)
    assert [a.kind for a in unrecorded.anomalies] == ["drop"]
    assert unrecorded.total < truth


def test_leaks_raise_the_compressors_draw_hour_by_hour() -> None:
    _, _, power = _run(SimMeterConfig(leak_kw_per_hour=2.0), 4)
    first, last = power[:3600], power[-3600:]
    assert sum(last) / 3600 - sum(first) / 3600 == pytest.approx(6.0, abs=1.5)
