"""A 2026-07-28 upstream's list-changed notifications, which it sends only on a listen stream.

At 2026-07-28 a server sends ``notifications/*/list_changed`` only on ``subscriptions/listen``
streams, so while such an upstream is connected the bridge holds one stream open for the kinds
its capabilities announce. The SDK tees each event to the client's ``message_handler``, which is
the relay (``relay.py``): from there a change reaches the bridge's clients exactly as one from a
session-protocol upstream does (and a tools change drops the pool's cached catalog).
"""

from __future__ import annotations

import logging

from mcp import Client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

logger = logging.getLogger(__name__)


async def hold_change_stream(name: str, client: Client) -> None:
    """Listen to the upstream's list changes until the connection ends (a no-op before 2026-07-28).

    A stream that cannot be opened or is lost is logged, not raised: the upstream stays usable,
    only its change notifications are missing.
    """
    if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return
    capabilities = client.server_capabilities
    tools = bool(capabilities.tools and capabilities.tools.list_changed)
    prompts = bool(capabilities.prompts and capabilities.prompts.list_changed)
    resources = bool(capabilities.resources and capabilities.resources.list_changed)
    if not (tools or prompts or resources):
        return
    try:
        async with client.listen(
            tools_list_changed=tools, prompts_list_changed=prompts, resources_list_changed=resources
        ) as subscription:
            async for _event in subscription:
                pass  # delivered to the relay by the SDK's tee to message_handler
    except Exception as exc:
        logger.warning("upstream %s: its list-changed stream ended: %s", name, exc)


__all__ = ["hold_change_stream"]
