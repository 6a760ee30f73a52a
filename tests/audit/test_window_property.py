"""Property (issue 8): for random logs of several days and random windows, deleting any single
record or any whole partition inside a window or at either edge of it is detected whenever
records exist after what was deleted."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_bridge.audit import LocalAuditTrail, verify_audit_trail

from ..conftest import Clock

FIRST_DAY = date(2025, 10, 20)


def _write(root: Path, per_day: list[int]) -> list[list[bytes]]:
    """Write ``per_day[i]`` records on day ``i`` with the real trail; the lines of each day."""
    clock = Clock(datetime(2000, 1, 1, tzinfo=UTC))
    with LocalAuditTrail(root, clock=clock) as trail:
        for index, count in enumerate(per_day):
            clock.set_day(FIRST_DAY + timedelta(days=index))
            for n in range(count):
                trail.record_event("p", {"n": n})
                clock.advance(seconds=1)
    return [
        _day_file(root, index).read_bytes().splitlines(keepends=True) if count else []
        for index, count in enumerate(per_day)
    ]


def _day_file(root: Path, index: int) -> Path:
    return root / f"{FIRST_DAY + timedelta(days=index):%Y/%m/%d}.jsonl"


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[int], int, int, str, int]:
    per_day = draw(st.lists(st.integers(0, 3), min_size=2, max_size=5))
    days = len(per_day)
    start = draw(st.integers(0, days - 1))
    end = draw(st.integers(start, days - 1))
    kind = draw(st.sampled_from(["record", "partition"]))
    target = draw(st.integers(0, 10_000))
    return per_day, start, end, kind, target


def _edges(per_day: list[int], start: int, end: int) -> tuple[int, int]:
    """Flat record positions from the last record before the window to the first after it."""
    before = sum(per_day[:start])
    inside = sum(per_day[start : end + 1])
    low = before - 1 if before else 0
    high = min(before + inside, sum(per_day) - 1)
    return low, high


def _partition_choices(per_day: list[int], start: int, end: int) -> list[int]:
    """The window's days plus the nearest non-empty partition on each side."""
    earlier = [i for i in range(start) if per_day[i]]
    later = [i for i in range(end + 1, len(per_day)) if per_day[i]]
    return earlier[-1:] + list(range(start, end + 1)) + later[:1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_a_deletion_in_or_at_the_edge_of_a_window_is_detected(
    case: tuple[list[int], int, int, str, int],
) -> None:
    per_day, start, end, kind, target = case
    if sum(per_day) == 0:
        return
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        lines = _write(root, per_day)
        day_start = FIRST_DAY + timedelta(days=start)
        day_end = FIRST_DAY + timedelta(days=end)
        assert verify_audit_trail(root, start=day_start, end=day_end).ok
        flat = [(day, i) for day, day_lines in enumerate(lines) for i in range(len(day_lines))]
        if kind == "record":
            low, high = _edges(per_day, start, end)
            day, index = flat[low + target % (high - low + 1)]
            del lines[day][index]
            _day_file(root, day).write_bytes(b"".join(lines[day]))
            last_deleted = flat.index((day, index))
        else:
            day = _partition_choices(per_day, start, end)[
                target % len(_partition_choices(per_day, start, end))
            ]
            if not per_day[day]:
                return
            _day_file(root, day).unlink()
            last_deleted = sum(per_day[: day + 1]) - 1
        result = verify_audit_trail(root, start=day_start, end=day_end)
        if last_deleted < len(flat) - 1:
            assert not result.ok, (per_day, start, end, kind, day, result.render_text())
