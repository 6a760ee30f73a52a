"""Upstream timeouts that count from the last sign of life, not from the start of the call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import REQUEST_TIMEOUT


@contextmanager
def idle_deadline(seconds: float, upstream: str) -> Iterator[Callable[[], None]]:
    """Cancel the block after ``seconds`` without a call to the yielded ``alive()``.

    Leaving the block that way raises ``MCPError(REQUEST_TIMEOUT)`` naming the setting; the
    cancellation on the way out makes the SDK send ``notifications/cancelled`` upstream.
    """
    with anyio.CancelScope(deadline=anyio.current_time() + seconds) as scope:

        def alive() -> None:
            scope.deadline = anyio.current_time() + seconds

        yield alive
    if scope.cancelled_caught:
        raise MCPError(
            code=REQUEST_TIMEOUT,
            message=(
                f"upstream {upstream!r} sent neither a result nor progress for {seconds:g} s "
                "(BRIDGE_UPSTREAM_TIMEOUT_SECONDS)"
            ),
        )


__all__ = ["idle_deadline"]
