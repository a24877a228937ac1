"""The finite-capacity scheduler: a flexible job shop on OR-Tools CP-SAT, pure (data in, plan out, no I/O).

What it models, in integer time units the caller picks (the orders app uses minutes from the plan's origin):

- jobs (production orders) as chains of operations; each operation runs on one of its eligible machines with a
  duration per machine, without interruption, after its predecessor in the job and not before the job's release;
- machine calendars as unavailability windows (off-shifts, planned maintenance, a predicted failure, a breakdown):
  no operation overlaps one on its machine;
- sequence-dependent setups per machine: between two operations of different setup families the machine needs
  ``setups[(machine, from, to)]`` (or ``default_setup``) time units, modelled with a circuit over the machine's
  operations (only on machines that have setups, so the classic instances keep the plain no-overlap model);
- due dates with lateness (tardiness, weighted by priority), pins (an operation fixed to a machine and a start);
- objectives: ``makespan``, ``lateness`` (then makespan as a tie-break) or ``setups`` (then makespan), with a
  time limit; a previous plan is a hint (warm start).

:func:`repair` re-plans after a breakdown from the current plan: what has run stays, what runs now on a machine that
is still up goes on, and the rest may move, at a price per moved operation, after lateness. :func:`promise`
answers capable-to-promise: the earliest end of a new job that makes no other job later than its due date (or
later than it already is). Both start from a right-shift of the current plan (:func:`right_shift`), a feasible
answer in milliseconds that CP-SAT then improves, so a time limit never leaves the caller without a plan.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ortools.sat.python import cp_model

Objective = Literal["makespan", "lateness", "setups"]
OBJECTIVES: tuple[Objective, ...] = ("makespan", "lateness", "setups")


@dataclass(frozen=True)
class Operation:
    """One step of a job: ``durations`` maps each eligible machine to its processing time (setup excluded)."""

    id: str
    durations: Mapping[str, int]
    family: str = ""  # setup family: a change of family on a machine costs a setup


@dataclass(frozen=True)
class Job:
    """A production order as the scheduler sees it: operations in routing order, release and due date (time
    units), and a priority that weighs its lateness (1 = normal)."""

    id: str
    operations: tuple[Operation, ...]
    due: int | None = None
    release: int = 0
    priority: int = 1


@dataclass(frozen=True)
class Problem:
    """Everything one solve needs. ``unavailable`` maps a machine to its ``(start, end)`` windows; ``pins`` maps an
    operation id to ``(machine, start)``; ``setups`` maps ``(machine, from family, to family)`` to a time."""

    jobs: tuple[Job, ...]
    unavailable: Mapping[str, Sequence[tuple[int, int]]] = field(default_factory=dict)
    setups: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    pins: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    horizon: int | None = None

    @property
    def machines(self) -> list[str]:
        seen: dict[str, None] = {}
        for job in self.jobs:
            for op in job.operations:
                for m in op.durations:
                    seen.setdefault(m, None)
        return list(seen)

    def job_of(self) -> dict[str, Job]:
        return {op.id: job for job in self.jobs for op in job.operations}


@dataclass(frozen=True)
class Slot:
    """Where and when an operation runs in a plan: ``end - start`` includes no setup (the setup precedes it)."""

    machine: str
    start: int
    end: int


@dataclass(frozen=True)
class Plan:
    """A schedule: a slot per operation id, and how the solver got there. ``bound`` is CP-SAT's lower bound on
    the objective (equal to it when ``status`` is ``OPTIMAL``)."""

    slots: Mapping[str, Slot]
    status: str = "FEASIBLE"
    objective: float = 0.0
    bound: float = 0.0
    wall_s: float = 0.0

    def makespan(self) -> int:
        return max((s.end for s in self.slots.values()), default=0)

    def job_end(self, job: Job) -> int:
        return self.slots[job.operations[-1].id].end

    def late_jobs(self, problem: Problem) -> list[str]:
        """The jobs that end after their due date, in the problem's order."""
        return [j.id for j in problem.jobs if j.due is not None and self.job_end(j) > j.due]

    def lateness(self, problem: Problem) -> int:
        return sum(max(0, self.job_end(j) - j.due) for j in problem.jobs if j.due is not None)


#: the latest time unit a plan may reach: ten million minutes (19 years). Beyond it the objective's weights could
#: overflow CP-SAT's 64-bit arithmetic, and an order that far out is a typing mistake, not a plan.
MAX_HORIZON = 10_000_000
MAX_PRIORITY = 100


class ScheduleError(ValueError):
    """A problem that has no plan as given (an operation without a machine, a pin on a machine the operation cannot
    use, a duration below zero); the message names the job and the operation."""


def validate(problem: Problem) -> None:
    """Raise :class:`ScheduleError` naming the first operation that cannot be planned as given."""
    seen: set[str] = set()
    for job in problem.jobs:
        if not job.operations:
            raise ScheduleError(f"job {job.id!r} has no operations")
        for op in job.operations:
            if op.id in seen:
                raise ScheduleError(f"operation {op.id!r} (job {job.id!r}) appears twice")
            seen.add(op.id)
            if not op.durations:
                raise ScheduleError(f"operation {op.id!r} of job {job.id!r} has no eligible machine")
            for m, d in op.durations.items():
                if d < 0:
                    raise ScheduleError(
                        f"operation {op.id!r} of job {job.id!r}: duration on {m!r} is {d} < 0"
                    )
        if not 1 <= job.priority <= MAX_PRIORITY:
            raise ScheduleError(f"job {job.id!r}: priority {job.priority} is not from 1 to {MAX_PRIORITY}")
    horizon = _horizon(problem)
    if horizon > MAX_HORIZON:
        raise ScheduleError(
            f"the plan would reach {horizon:,} time units (releases, pins, windows and work added up), beyond "
            f"{MAX_HORIZON:,}: a quantity, a release or a pin is far larger than a plan can hold"
        )
    for op_id, (m, _start) in problem.pins.items():
        owner = problem.job_of().get(op_id)
        if owner is None:
            raise ScheduleError(f"pin on unknown operation {op_id!r}")
        pinned = next(o for o in owner.operations if o.id == op_id)
        if m not in pinned.durations:
            raise ScheduleError(
                f"pin of operation {op_id!r} (job {owner.id!r}) on {m!r}, which it cannot use"
            )


def _horizon(problem: Problem) -> int:
    if problem.horizon is not None:
        return problem.horizon
    work = sum(max(op.durations.values()) for j in problem.jobs for op in j.operations)
    max_setup = max(problem.setups.values(), default=0)
    n_ops = sum(len(j.operations) for j in problem.jobs)
    windows = [end for ws in problem.unavailable.values() for _s, end in ws]
    start = max([j.release for j in problem.jobs] + [s for _m, s in problem.pins.values()] + [0])
    return start + work + max_setup * n_ops + max(windows, default=0) + 1


@dataclass
class _Model:
    model: cp_model.CpModel
    starts: dict[str, cp_model.IntVar]
    ends: dict[str, cp_model.IntVar]
    presence: dict[tuple[str, str], cp_model.IntVar | int]
    job_end: dict[str, cp_model.IntVar]
    tardiness: dict[str, cp_model.IntVar]
    makespan: cp_model.IntVar
    setup_cost: Any  # a CP-SAT linear expression (0 without setups)


def _build(problem: Problem, *, floor: Mapping[str, int] | None = None) -> _Model:
    """The CP-SAT model of ``problem``; ``floor`` gives an operation an earliest start (the repair's "now")."""
    validate(problem)
    horizon = _horizon(problem)
    m = cp_model.CpModel()
    starts: dict[str, cp_model.IntVar] = {}
    ends: dict[str, cp_model.IntVar] = {}
    presence: dict[tuple[str, str], cp_model.IntVar | int] = {}
    per_machine: dict[str, list[tuple[str, cp_model.IntervalVar, cp_model.IntVar | int, str]]] = defaultdict(
        list
    )
    job_end: dict[str, cp_model.IntVar] = {}
    tardiness: dict[str, cp_model.IntVar] = {}
    floor = floor or {}
    for job in problem.jobs:
        previous: cp_model.IntVar | None = None
        for op in job.operations:
            lo = max(job.release, floor.get(op.id, 0))
            dmin, dmax = min(op.durations.values()), max(op.durations.values())
            s = m.new_int_var(lo, horizon, f"s_{op.id}")
            e = m.new_int_var(lo + dmin, horizon + dmax, f"e_{op.id}")
            starts[op.id], ends[op.id] = s, e
            if len(op.durations) == 1:
                ((machine, d),) = op.durations.items()
                iv = m.new_interval_var(s, d, e, f"i_{op.id}")
                presence[(op.id, machine)] = 1
                per_machine[machine].append((op.id, iv, 1, op.family))
            else:
                lits = []
                for machine, d in op.durations.items():
                    p = m.new_bool_var(f"p_{op.id}_{machine}")
                    iv = m.new_optional_fixed_size_interval_var(s, d, p, f"i_{op.id}_{machine}")
                    m.add(e == s + d).only_enforce_if(p)
                    presence[(op.id, machine)] = p
                    per_machine[machine].append((op.id, iv, p, op.family))
                    lits.append(p)
                m.add_exactly_one(lits)
            if previous is not None:
                m.add(s >= previous)
            previous = e
            if op.id in problem.pins:
                pm, pstart = problem.pins[op.id]
                m.add(s == pstart)
                chosen = presence[(op.id, pm)]
                if not isinstance(chosen, int):
                    m.add(chosen == 1)
        assert previous is not None
        job_end[job.id] = previous
        if job.due is not None:
            t = m.new_int_var(0, horizon + 1, f"t_{job.id}")
            m.add(t >= previous - job.due)
            tardiness[job.id] = t

    setup_terms: list[Any] = []
    for machine, items in per_machine.items():
        ivs = [iv for _id, iv, _p, _f in items]
        for k, (a, b) in enumerate(problem.unavailable.get(machine, ())):
            if b > a:
                ivs.append(m.new_fixed_size_interval_var(a, b - a, f"off_{machine}_{k}"))
        m.add_no_overlap(ivs)
        families = {f for _id, _iv, _p, f in items}
        costs = {(f, g): problem.setups.get((machine, f, g), 0) for f in families for g in families if f != g}
        if not any(costs.values()):
            continue
        # A circuit over the machine's operations (node 0 is the machine's start and end): an arc i -> j means j
        # follows i directly, so j starts no earlier than i's end plus the setup between their families.
        arcs: list[tuple[int, int, cp_model.LiteralT]] = []
        for i, (id_i, _iv, p_i, f_i) in enumerate(items, start=1):
            first = m.new_bool_var(f"first_{machine}_{id_i}")
            last = m.new_bool_var(f"last_{machine}_{id_i}")
            arcs.append((0, i, first))
            arcs.append((i, 0, last))
            if not isinstance(p_i, int):
                arcs.append((i, i, p_i.Not()))
            for j, (id_j, _jv, _p_j, f_j) in enumerate(items, start=1):
                if i == j:
                    continue
                lit = m.new_bool_var(f"arc_{machine}_{id_i}_{id_j}")
                arcs.append((i, j, lit))
                gap = costs.get((f_i, f_j), 0)
                m.add(starts[id_j] >= ends[id_i] + gap).only_enforce_if(lit)
                if gap:
                    setup_terms.append(gap * lit)
        m.add_circuit(arcs)
    makespan = m.new_int_var(0, horizon * 2, "makespan")
    m.add_max_equality(makespan, list(job_end.values()))
    return _Model(m, starts, ends, presence, job_end, tardiness, makespan, sum(setup_terms))


def _objective(bm: _Model, problem: Problem, objective: Objective) -> Any:
    if objective == "makespan":
        return bm.makespan
    weight = len(problem.jobs) * _horizon(problem) + 1
    if objective == "lateness":
        prio = {j.id: j.priority for j in problem.jobs}
        late = sum(prio[j] * t for j, t in bm.tardiness.items())
        return weight * late + bm.makespan
    return weight * bm.setup_cost + bm.makespan


def _hint(bm: _Model, plan: Plan, problem: Problem | None = None) -> None:
    """Hint ``plan`` to the model: starts, ends, machines and, given ``problem``, tardiness and makespan too (a
    complete feasible hint is CP-SAT's first solution at once; an incomplete one may be lost in presolve)."""
    if problem is not None:
        ends = {
            j.id: plan.slots[j.operations[-1].id].end
            for j in problem.jobs
            if j.operations[-1].id in plan.slots
        }
        for j in problem.jobs:
            if j.id in bm.tardiness and j.id in ends and j.due is not None:
                bm.model.add_hint(bm.tardiness[j.id], max(0, ends[j.id] - j.due))
        if ends:
            bm.model.add_hint(bm.makespan, max(ends.values()))
    for op_id, slot in plan.slots.items():
        if op_id not in bm.starts:
            continue
        bm.model.add_hint(bm.starts[op_id], slot.start)
        bm.model.add_hint(bm.ends[op_id], slot.end)
        for (oid, machine), p in bm.presence.items():
            if oid == op_id and not isinstance(p, int):
                bm.model.add_hint(p, machine == slot.machine)


def _solve(
    bm: _Model, time_limit_s: float, workers: int, seed: int = 0, fast: bool = False
) -> tuple[cp_model.CpSolver, Any]:
    solver = cp_model.CpSolver()
    if fast:
        # A re-plan has under two seconds: presolve's probing alone takes most of a second on 500 operations.
        solver.parameters.cp_model_probing_level = 0
        solver.parameters.symmetry_level = 0
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(bm.model)
    return solver, status


def _extract(bm: _Model, problem: Problem, solver: cp_model.CpSolver, status: int) -> dict[str, Slot]:
    slots: dict[str, Slot] = {}
    for job in problem.jobs:
        for op in job.operations:
            machine = next(mc for mc in op.durations if solver.value(bm.presence[(op.id, mc)]))
            slots[op.id] = Slot(machine, solver.value(bm.starts[op.id]), solver.value(bm.ends[op.id]))
    return slots


def solve(
    problem: Problem,
    objective: Objective = "makespan",
    *,
    time_limit_s: float = 10.0,
    workers: int = 2,
    hint: Plan | None = None,
    floor: Mapping[str, int] | None = None,
) -> Plan:
    """Plan ``problem`` for ``objective`` within ``time_limit_s`` on ``workers`` threads; ``floor`` gives
    operations an earliest start (what a re-plan at "now" must respect).

    Raises :class:`ScheduleError` when the problem is infeasible (a pin that collides with another) or no plan was
    found in the time limit."""
    if objective not in OBJECTIVES:
        raise ScheduleError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    bm = _build(problem, floor=floor)
    bm.model.minimize(_objective(bm, problem, objective))
    if hint is not None:
        _hint(bm, hint)
    solver, status = _solve(bm, time_limit_s, workers)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ScheduleError(
            f"no plan: CP-SAT says {solver.status_name(status)} after {solver.wall_time:.1f} s"
        )
    return Plan(
        _extract(bm, problem, solver, status),
        solver.status_name(status),
        solver.objective_value,
        solver.best_objective_bound,
        solver.wall_time,
    )


# -- repair after a breakdown ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repair:
    """A repaired plan and what changed: the operations that moved (machine or start), and the jobs late now."""

    plan: Plan
    moved: tuple[str, ...]
    late: tuple[str, ...]
    newly_late: tuple[str, ...]
    method: str  # "cp-sat", or "heuristic" (the time limit passed before CP-SAT had a plan)


def _windows(problem: Problem, machine: str) -> list[tuple[int, int]]:
    return sorted((a, b) for a, b in problem.unavailable.get(machine, ()) if b > a)


def _fit(start: int, duration: int, windows: Iterable[tuple[int, int]]) -> int:
    """The earliest start at or after ``start`` where ``duration`` fits between ``windows`` (sorted)."""
    for a, b in windows:
        if start < b and start + duration > a:
            start = b
    return start


def right_shift(problem: Problem, plan: Plan, now: int, fixed: Iterable[str] = ()) -> Plan:
    """A feasible plan close to ``plan``: each machine keeps its sequence and each operation its machine, and an
    operation starts at its old start unless its job, its machine or an unavailability window pushes it later.
    Operations in ``fixed`` keep their slot; others start no earlier than ``now``. Milliseconds on 500 operations.

    Used as the repair's warm start and its answer when the time limit passes first."""
    fixed = set(fixed)
    job_of = problem.job_of()
    prev_in_job: dict[str, str | None] = {}
    for job in problem.jobs:
        for k, op in enumerate(job.operations):
            prev_in_job[op.id] = job.operations[k - 1].id if k else None
    ops = {op.id: op for job in problem.jobs for op in job.operations}
    order = sorted(plan.slots, key=lambda i: (plan.slots[i].start, plan.slots[i].end))
    machine_free: dict[str, int] = defaultdict(int)
    new: dict[str, Slot] = {}
    windows = {mc: _windows(problem, mc) for mc in problem.machines}
    for op_id in order:
        old = plan.slots[op_id]
        if op_id in fixed:
            new[op_id] = old
            machine_free[old.machine] = max(machine_free[old.machine], old.end)
            continue
        d = ops[op_id].durations[old.machine]
        prev = prev_in_job[op_id]
        earliest = max(old.start, now, machine_free[old.machine], job_of[op_id].release)
        if prev is not None:
            earliest = max(earliest, new[prev].end)
        start = _fit(earliest, d, windows.get(old.machine, ()))
        new[op_id] = Slot(old.machine, start, start + d)
        machine_free[old.machine] = start + d
    return Plan(new, "FEASIBLE", 0.0, 0.0, 0.0)


def insert_repair(problem: Problem, plan: Plan, now: int, fixed: Iterable[str] = ()) -> Plan:
    """A feasible plan that moves few operations: every operation keeps its slot unless a window of its machine now
    overlaps it, it would start before ``now`` without being in ``fixed``, or its job's previous operation now ends
    after its start; such an operation goes into the earliest gap, on any machine it may use, that fits it (and the
    machine's largest setup on either side), so that no operation that stays is disturbed. Milliseconds on 500
    operations; the repair's warm start, and its answer when the time limit passes first."""
    fixed = set(fixed)
    ops = {op.id: op for job in problem.jobs for op in job.operations}
    job_of = problem.job_of()
    nxt: dict[str, str] = {}
    for job in problem.jobs:
        for a, b in zip(job.operations, job.operations[1:], strict=False):
            nxt[a.id] = b.id
    pad: dict[str, int] = defaultdict(int)
    for (mc, _f, _g), t in problem.setups.items():
        pad[mc] = max(pad[mc], t)
    busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for mc in problem.machines:
        busy[mc] = list(_windows(problem, mc))
    slots = dict(plan.slots)
    todo: list[str] = []
    for op_id, slot in plan.slots.items():
        windows = busy[slot.machine]
        hit = any(a < slot.end and slot.start < b for a, b in windows)
        if op_id not in fixed and (hit or slot.start < now):
            todo.append(op_id)
    displaced = set(todo)
    for op_id, slot in plan.slots.items():
        if op_id not in displaced:
            busy[slot.machine].append((slot.start - pad[slot.machine], slot.end + pad[slot.machine]))
    for mc in busy:
        busy[mc].sort()
    prev_of = {b: a for a, b in nxt.items()}
    # Earliest first, so that an operation placed into a gap is there before a later one looks for room.
    queue = sorted(todo, key=lambda i: plan.slots[i].start)
    while queue:
        op_id = queue.pop(0)
        op = ops[op_id]
        prev = prev_of.get(op_id)
        est = max(now, job_of[op_id].release, slots[prev].end if prev else 0)
        best: Slot | None = None
        for mc, d in op.durations.items():
            start = _fit(est, d + pad[mc], busy[mc])
            if (
                best is None
                or start + d < best.end
                or (start + d == best.end and mc == plan.slots[op_id].machine)
            ):
                best = Slot(mc, start, start + d)
        assert best is not None
        slots[op_id] = best
        busy[best.machine].append((best.start - pad[best.machine], best.end + pad[best.machine]))
        busy[best.machine].sort()
        follower = nxt.get(op_id)
        if follower is not None and follower not in displaced and slots[follower].start < best.end:
            displaced.add(follower)
            old = slots[follower]
            busy[old.machine].remove((old.start - pad[old.machine], old.end + pad[old.machine]))
            queue.append(follower)
            queue.sort(key=lambda i: slots[i].start)
    return Plan(slots, "FEASIBLE", 0.0, 0.0, 0.0)


def _moved(before: Plan, after: Plan) -> tuple[str, ...]:
    return tuple(
        i
        for i, s in after.slots.items()
        if i in before.slots and (before.slots[i].start, before.slots[i].machine) != (s.start, s.machine)
    )


def freeze(problem: Problem, plan: Plan, now: int) -> tuple[Problem, list[str], dict[str, int]]:
    """What a re-plan at ``now`` may not change: operations that ended, and those running on a machine that no
    window now interrupts, are pinned where they are; every other operation gets ``now`` as its earliest start
    (one cut by a window starts again from scratch). Returns the pinned problem, the pinned ids and the floors."""
    fixed: list[str] = []
    floor: dict[str, int] = {}
    for op_id, slot in plan.slots.items():
        hit = any(a < slot.end and slot.start < b for a, b in _windows(problem, slot.machine))
        if slot.end <= now or (slot.start < now and not hit):
            fixed.append(op_id)
        else:
            floor[op_id] = now
    pins = dict(problem.pins)
    pins.update({i: (plan.slots[i].machine, plan.slots[i].start) for i in fixed})
    return replace(problem, pins=pins), fixed, floor


def repair(
    problem: Problem,
    plan: Plan,
    now: int,
    *,
    time_limit_s: float = 1.2,
    workers: int = 2,
    move_weight: int | None = None,
) -> Repair:
    """Re-plan after the world changed at ``now`` (``problem.unavailable`` holds the breakdown window).

    Operations that ended by ``now`` stay; one running at ``now`` goes on where it is unless a window of its
    machine now overlaps it, in which case it starts again later (anywhere it may run); every other operation
    starts at ``now`` or later. The objective is lateness first (weighted by priority), then the number of moved
    operations (an operation moves when its start or its machine changes), then makespan. CP-SAT starts from the
    right-shift of ``plan`` and gets ``time_limit_s``; without an improvement the right-shift is the answer."""
    base, fixed, floor = freeze(problem, plan, now)
    candidates = [insert_repair(base, plan, now, fixed), right_shift(base, plan, now, fixed)]
    shifted = min(
        candidates, key=lambda p: (len(p.late_jobs(problem)), len(_moved(plan, p)), p.lateness(problem))
    )
    before_late = set(plan.late_jobs(problem))
    bm = _build(base, floor=floor)
    horizon = _horizon(base)
    n_ops = len(plan.slots)
    w_move = move_weight if move_weight is not None else horizon + 1
    w_late = w_move * (n_ops + 1)
    w_late_job = w_late * (horizon + 1)
    prio = {j.id: j.priority for j in problem.jobs}
    late_term = sum(prio[j] * t for j, t in bm.tardiness.items())
    hint_late = set(shifted.late_jobs(base))
    late_flags = []
    for j, t in bm.tardiness.items():
        flag = bm.model.new_bool_var(f"late_{j}")
        bm.model.add(t == 0).only_enforce_if(flag.Not())
        bm.model.add_hint(flag, j in hint_late)
        late_flags.append(prio[j] * flag)
    stay_lits: list[cp_model.IntVar] = []
    for op_id in floor:
        old = plan.slots[op_id]
        p = bm.presence.get((op_id, old.machine))
        if p is None or old.start < now:
            continue
        stay = bm.model.new_bool_var(f"stay_{op_id}")
        bm.model.add(bm.starts[op_id] == old.start).only_enforce_if(stay)
        if not isinstance(p, int):
            bm.model.add_implication(stay, p)
        stay_lits.append(stay)
        hinted = shifted.slots[op_id]
        bm.model.add_hint(stay, (hinted.start, hinted.machine) == (old.start, old.machine))
    moved_count = len(floor) - sum(stay_lits)
    bm.model.minimize(w_late_job * sum(late_flags) + w_late * late_term + w_move * moved_count + bm.makespan)
    _hint(bm, shifted, base)
    solver, status = _solve(bm, time_limit_s, workers, fast=True)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        new = Plan(
            _extract(bm, base, solver, status),
            solver.status_name(status),
            solver.objective_value,
            solver.best_objective_bound,
            solver.wall_time,
        )
        method = "cp-sat"
    else:
        new, method = shifted, "heuristic"
    late = new.late_jobs(problem)
    return Repair(new, _moved(plan, new), tuple(late), tuple(j for j in late if j not in before_late), method)


# -- capable to promise ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promise:
    """The earliest end of a new job that keeps every other job as on time as the current plan has it, and why
    it is not earlier: ``bottleneck`` is the machine its operations waited for longest (``None`` when the job
    runs back to back, its own work being the limit)."""

    end: int
    plan: Plan
    bottleneck: str | None
    waits: Mapping[str, int]  # machine -> time units the new job's operations waited for it
    exact: bool  # CP-SAT proved no earlier end exists (within the model)


def promise(
    problem: Problem,
    plan: Plan,
    new_job: Job,
    now: int,
    *,
    time_limit_s: float = 0.8,
    workers: int = 2,
) -> Promise:
    """When can ``new_job`` (released at ``now`` at the earliest) be finished without making another job late?

    The other jobs may move (operations that ended or run at ``now`` stay), but none may end after its due date,
    or after its current planned end where that is already later. The answer minimises the new job's end."""
    fixed = [i for i, s in plan.slots.items() if s.start < now]
    pins = dict(problem.pins)
    pins.update({i: (plan.slots[i].machine, plan.slots[i].start) for i in fixed})
    job = replace(new_job, release=max(new_job.release, now))
    base = replace(problem, jobs=(*problem.jobs, job), pins=pins)
    floor = {op.id: now for j in base.jobs for op in j.operations if op.id not in fixed}
    bm = _build(base, floor=floor)
    for j in problem.jobs:
        limit = max(plan.job_end(j), j.due if j.due is not None else plan.job_end(j))
        if j.due is None:
            limit = max(limit, plan.makespan())
        bm.model.add(bm.job_end[j.id] <= limit)
    bm.model.minimize(
        bm.job_end[job.id] * (len(plan.slots) + 1) + sum(bm.job_end[j.id] for j in problem.jobs)
    )
    # The hint: everyone where they are, the new job appended after each machine's last operation.
    hinted = dict(plan.slots)
    free: dict[str, int] = defaultdict(int)
    for s in plan.slots.values():
        free[s.machine] = max(free[s.machine], s.end)
    t = job.release
    for op in job.operations:
        machine = min(op.durations, key=lambda mc: max(free[mc], t) + op.durations[mc])
        start = _fit(max(free[machine], t), op.durations[machine], _windows(base, machine))
        hinted[op.id] = Slot(machine, start, start + op.durations[machine])
        free[machine] = t = start + op.durations[machine]
    _hint(bm, Plan(hinted), base)
    solver, status = _solve(bm, time_limit_s, workers, fast=True)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ScheduleError(
            f"no promise for {new_job.id!r}: CP-SAT says {solver.status_name(status)} after {solver.wall_time:.1f} s"
        )
    slots = _extract(bm, base, solver, status)
    new_plan = Plan(slots, solver.status_name(status), solver.objective_value, solver.best_objective_bound)
    waits: dict[str, int] = defaultdict(int)
    ready = job.release
    for op in job.operations:
        s = slots[op.id]
        if s.start > ready:
            waits[s.machine] += s.start - ready
        ready = s.end
    bottleneck = max(waits, key=lambda mc: waits[mc]) if waits else None
    return Promise(
        slots[job.operations[-1].id].end, new_plan, bottleneck, dict(waits), status == cp_model.OPTIMAL
    )


def gap(value: float, bound: float) -> float:
    """Relative gap of ``value`` to a best-known ``bound``, in percent (0 when equal)."""
    return math.inf if bound <= 0 else 100.0 * (value - bound) / bound


# -- JSON form (fixtures, the API) ----------------------------------------------------------------------------


def problem_to_dict(problem: Problem) -> dict[str, object]:
    """A JSON-ready form of ``problem`` that :func:`problem_from_dict` reads back."""
    return {
        "jobs": [
            {
                "id": j.id,
                "due": j.due,
                "release": j.release,
                "priority": j.priority,
                "operations": [
                    {"id": o.id, "durations": dict(o.durations), "family": o.family} for o in j.operations
                ],
            }
            for j in problem.jobs
        ],
        "unavailable": {m: [list(w) for w in ws] for m, ws in problem.unavailable.items()},
        "setups": [[m, f, g, t] for (m, f, g), t in problem.setups.items()],
        "pins": {i: [m, s] for i, (m, s) in problem.pins.items()},
        "horizon": problem.horizon,
    }


def problem_from_dict(data: Mapping[str, object]) -> Problem:
    """The problem of :func:`problem_to_dict`'s form; a missing or mistyped key raises ``KeyError``/``TypeError``."""
    jobs = tuple(
        Job(
            str(j["id"]),
            tuple(
                Operation(
                    str(o["id"]),
                    {str(m): int(d) for m, d in o["durations"].items()},
                    str(o.get("family", "")),
                )
                for o in j["operations"]
            ),
            None if j.get("due") is None else int(j["due"]),
            int(j.get("release", 0)),
            int(j.get("priority", 1)),
        )
        for j in data["jobs"]  # type: ignore[attr-defined]
    )
    unavailable = {str(m): [(int(a), int(b)) for a, b in ws] for m, ws in data.get("unavailable", {}).items()}  # type: ignore[attr-defined]
    setups = {(str(m), str(f), str(g)): int(t) for m, f, g, t in data.get("setups", [])}  # type: ignore[attr-defined]
    pins = {str(i): (str(m), int(s)) for i, (m, s) in data.get("pins", {}).items()}  # type: ignore[attr-defined]
    horizon = data.get("horizon")
    return Problem(jobs, unavailable, setups, pins, None if horizon is None else int(horizon))  # type: ignore[call-overload]


def plan_to_dict(plan: Plan) -> dict[str, object]:
    return {
        "slots": {i: [s.machine, s.start, s.end] for i, s in plan.slots.items()},
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
    }


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    slots = {str(i): Slot(str(m), int(a), int(b)) for i, (m, a, b) in data["slots"].items()}
    return Plan(
        slots,
        str(data.get("status", "FEASIBLE")),
        float(data.get("objective", 0.0)),
        float(data.get("bound", 0.0)),
    )


def violations(problem: Problem, plan: Plan) -> list[str]:
    """What in ``plan`` breaks ``problem``'s rules, one sentence each (empty: the plan is feasible): a missing
    operation, a machine it may not use, a wrong duration, a job's order, a release, an overlap on a machine (setups
    included), a window, a pin. The tests' and the API's check of any plan, whoever made it."""
    out: list[str] = []
    per_machine: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    for job in problem.jobs:
        ready = job.release
        for op in job.operations:
            slot = plan.slots.get(op.id)
            if slot is None:
                out.append(f"{op.id}: not planned")
                continue
            if slot.machine not in op.durations:
                out.append(f"{op.id}: on {slot.machine}, which it cannot use")
                continue
            if slot.end - slot.start != op.durations[slot.machine]:
                out.append(f"{op.id}: lasts {slot.end - slot.start}, not {op.durations[slot.machine]}")
            if slot.start < ready:
                out.append(f"{op.id}: starts at {slot.start}, before {ready} (release or previous operation)")
            ready = slot.end
            per_machine[slot.machine].append((slot.start, slot.end, op.id, op.family))
            for a, b in _windows(problem, slot.machine):
                if a < slot.end and slot.start < b:
                    out.append(f"{op.id}: on {slot.machine} over its unavailable window [{a}, {b})")
            pin = problem.pins.get(op.id)
            if pin is not None and pin != (slot.machine, slot.start):
                out.append(f"{op.id}: pinned to {pin}, planned at ({slot.machine}, {slot.start})")
    for machine, items in per_machine.items():
        items.sort()
        for (_s1, e1, i1, f1), (s2, _e2, i2, f2) in itertools.pairwise(items):
            need = problem.setups.get((machine, f1, f2), 0) if f1 != f2 else 0
            if s2 < e1 + need:
                out.append(f"{i1} and {i2} overlap on {machine} (setup {need})")
    return out
