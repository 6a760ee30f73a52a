"""Of two retries carrying one answer to a held call's question, only the first carries it.

The audit middleware asks :meth:`HeldCalls.resumes` before the request reaches the held call,
and a request it classes as a retry gets no record of its own (its answer's exchange names it).
Two retries sent at once both arrive before either has answered, so the check claims the
questions it answers at once: the second retry claims nothing and is recorded as a call.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from mcp_bridge.bridge.held import HeldCalls, _Held

pytestmark = pytest.mark.anyio


def _held_with_a_question(calls: HeldCalls) -> _Held:
    held = _Held("state")
    held.answered["q-1"] = anyio.Event()
    calls._by_token[held.token] = held
    return held


async def test_only_the_first_of_two_retries_claims_the_answer() -> None:
    calls = HeldCalls(timeout=1.0)
    held = _held_with_a_question(calls)
    first, second = object(), object()
    answer: dict[str, Any] = {"q-1": {"text": "yes"}}
    assert calls.resumes(first, "state", answer) is True  # type: ignore[arg-type]
    assert calls.resumes(second, "state", answer) is False  # type: ignore[arg-type]
    assert held.claimed == {"q-1"}


async def test_a_claim_released_unanswered_can_be_claimed_again() -> None:
    calls = HeldCalls(timeout=1.0)
    held = _held_with_a_question(calls)
    first, second = object(), object()
    answer: dict[str, Any] = {"q-1": {"text": "yes"}}
    assert calls.resumes(first, "state", answer)  # type: ignore[arg-type]
    calls.release(first)  # type: ignore[arg-type]  # it failed before it answered
    assert held.claimed == set()
    assert calls.resumes(second, "state", answer)  # type: ignore[arg-type]
    calls.release(second)  # type: ignore[arg-type]
    assert calls._claims == {}


async def test_unknown_state_or_no_answers_is_not_a_retry() -> None:
    calls = HeldCalls(timeout=1.0)
    _held_with_a_question(calls)
    request = object()
    assert calls.resumes(request, "other", {"q-1": {}}) is False  # type: ignore[arg-type]
    assert calls.resumes(request, "state", {}) is False  # type: ignore[arg-type]
    assert calls.resumes(request, "state", None) is False  # type: ignore[arg-type]
    assert calls._claims == {}
