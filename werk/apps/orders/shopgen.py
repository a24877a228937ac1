"""A generated shop for the re-plan acceptance: jobs, machines, due dates, a current plan and a breakdown.

``python -m werk.apps.orders.shopgen OUT.json`` writes the fixture the test and ``benchmarks/scheduling.py
--replan`` read (tests/apps/orders/fixtures/shop_50x10.json): 50 jobs of 10 operations on 10 machines
(Taillard-like: each job visits every machine once, durations 1-99 min), a third of the operations may also run on a
second machine at 20 % more time, due dates at 1.0-1.6 times a lower bound of the plan's makespan (so that a good
plan is on time for most orders and a bad one is not), the current plan (lateness first, then makespan, 180 s) and a
breakdown: a machine drawn with the same seed stops at a third of the plan for two hours (120 min), and the orders a
from-scratch plan of 60 s after it has late.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from werk.apps.orders.schedule import (
    Job,
    Operation,
    Plan,
    Problem,
    Repair,
    freeze,
    plan_from_dict,
    plan_to_dict,
    problem_from_dict,
    problem_to_dict,
    repair,
    solve,
)


def generate(seed: int = 20, n_jobs: int = 50, n_machines: int = 10) -> Problem:
    rng = random.Random(seed)
    machines = [f"M{k + 1:02d}" for k in range(n_machines)]
    raw: list[list[tuple[str, int, str | None]]] = []
    load = dict.fromkeys(machines, 0)
    for _j in range(n_jobs):
        route = rng.sample(machines, n_machines)
        ops = []
        for m in route:
            d = rng.randint(1, 99)
            alt = rng.choice([x for x in machines if x != m]) if rng.random() < 1 / 3 else None
            ops.append((m, d, alt))
            load[m] += d
        raw.append(ops)
    lower = max(load.values())
    jobs = []
    for j, ops in enumerate(raw):
        operations = tuple(
            Operation(
                f"J{j + 1:02d}-{k + 1:02d}",
                {m: d, **({alt: round(d * 1.2)} if alt else {})},
            )
            for k, (m, d, alt) in enumerate(ops)
        )
        due = round(lower * rng.uniform(1.0, 1.6))
        jobs.append(Job(f"J{j + 1:02d}", operations, due=due, priority=rng.choice([1, 1, 1, 2])))
    return Problem(tuple(jobs))


@dataclass(frozen=True)
class Breakdown:
    machine: str
    now: int
    duration: int

    def applied(self, problem: Problem) -> Problem:
        windows = {m: list(ws) for m, ws in problem.unavailable.items()}
        windows.setdefault(self.machine, []).append((self.now, self.now + self.duration))
        return replace(problem, unavailable=windows)


@dataclass(frozen=True)
class Case:
    problem: Problem  # without the breakdown
    plan: Plan  # the plan before the breakdown
    breakdown: Breakdown
    scratch_late: tuple[str, ...]  # jobs late in a from-scratch plan after the breakdown (what the file says)
    scratch_limit_s: float


def load(path: Path) -> Case:
    data = json.loads(path.read_text())
    b = data["breakdown"]
    return Case(
        problem_from_dict(data["problem"]),
        plan_from_dict(data["plan"]),
        Breakdown(str(b["machine"]), int(b["now"]), int(b["duration"])),
        tuple(data["scratch_late"]),
        float(data["scratch_limit_s"]),
    )


def scratch(case: Case, limit_s: float) -> Plan:
    """A from-scratch plan after the breakdown (no hint, lateness first, then makespan) under the repair's own
    rules: what ended or runs untouched at ``now`` stays, everything else starts at ``now`` or later."""
    base, _fixed, floor = freeze(case.breakdown.applied(case.problem), case.plan, case.breakdown.now)
    return solve(base, "lateness", time_limit_s=limit_s, workers=2, floor=floor)


@dataclass(frozen=True)
class Measured:
    repair: Repair
    repair_s: float
    scratch_late: tuple[str, ...]


def breakdown_case(path: Path, scratch_limit_s: float | None = None) -> Measured:
    """Repair the fixture's plan after its breakdown (timed, wall clock, model building included); with
    ``scratch_limit_s`` solve from scratch too, else take the from-scratch late orders the file records."""
    case = load(path)
    t0 = time.perf_counter()
    rep = repair(case.breakdown.applied(case.problem), case.plan, case.breakdown.now, time_limit_s=1.2)
    took = time.perf_counter() - t0
    if scratch_limit_s is None:
        late = case.scratch_late
    else:
        late = tuple(scratch(case, scratch_limit_s).late_jobs(case.problem))
    return Measured(rep, took, late)


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    problem = generate()
    plan = solve(problem, "lateness", time_limit_s=180, workers=2)
    span = plan.makespan()
    bd = Breakdown(random.Random(20).choice(problem.machines), span // 3, 120)
    case = Case(problem, plan, bd, (), 60.0)
    scratch_plan = scratch(case, 60.0)
    data = {
        "about": __doc__.split("\n")[0] if __doc__ else "",
        "problem": problem_to_dict(problem),
        "plan": plan_to_dict(plan),
        "breakdown": {"machine": bd.machine, "now": bd.now, "duration": bd.duration},
        "scratch_late": scratch_plan.late_jobs(problem),
        "scratch_limit_s": 60.0,
    }
    out.write_text(json.dumps(data, separators=(",", ":")))
    print(f"plan late {plan.late_jobs(problem)}, makespan {span}; breakdown {bd}")
    print(f"from scratch late {scratch_plan.late_jobs(problem)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
