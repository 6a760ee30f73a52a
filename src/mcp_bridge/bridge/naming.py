"""How upstream tools, prompts and resources are named on the bridge's single endpoint.

Tools and prompts: ``<upstream>__<name>`` (``git__git_status``). Upstream names cannot contain
``_``, so the first ``__`` always splits correctly. Resources: ``mcp-bridge://<upstream>/<uri>``
where ``<uri>`` is the upstream's URI unchanged, so two upstreams may use the same URI.

A bridge with a single upstream whose entry says ``"prefix": false`` exposes its names and URIs
unchanged (:class:`Naming` with ``sole`` set), so a client sees exactly what the upstream serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types as types

from .upstream_config import SEPARATOR, UpstreamSpec

RESOURCE_SCHEME = "mcp-bridge://"


def expose(upstream: str, name: str) -> str:
    return f"{upstream}{SEPARATOR}{name}"


def split(exposed: str) -> tuple[str, str] | None:
    """``(upstream, name)`` for an exposed tool/prompt name, or None if it is not one of ours."""
    upstream, sep, name = exposed.partition(SEPARATOR)
    return (upstream, name) if sep and upstream and name else None


def expose_uri(upstream: str, uri: str) -> str:
    return f"{RESOURCE_SCHEME}{upstream}/{uri}"


def split_uri(exposed: str) -> tuple[str, str] | None:
    """``(upstream, uri)`` for an exposed resource URI, or None if it is not one of ours."""
    if not exposed.startswith(RESOURCE_SCHEME):
        return None
    upstream, sep, uri = exposed.removeprefix(RESOURCE_SCHEME).partition("/")
    return (upstream, uri) if sep and upstream and uri else None


@dataclass(frozen=True)
class Naming:
    """The scheme in force: prefixed, or (``sole`` = the only upstream) names unchanged."""

    sole: str | None = None

    @classmethod
    def for_upstreams(cls, specs: list[UpstreamSpec]) -> Naming:
        unprefixed = len(specs) == 1 and not specs[0].prefix
        return cls(sole=specs[0].name if unprefixed else None)

    def expose(self, upstream: str, name: str) -> str:
        return name if self.sole else expose(upstream, name)

    def split(self, exposed: str) -> tuple[str, str] | None:
        return (self.sole, exposed) if self.sole else split(exposed)

    def expose_uri(self, upstream: str, uri: str) -> str:
        return uri if self.sole else expose_uri(upstream, uri)

    def split_uri(self, exposed: str) -> tuple[str, str] | None:
        return (self.sole, exposed) if self.sole else split_uri(exposed)

    def expose_content(self, upstream: str, block: Any) -> Any:
        """A content block with its resource URI (link or embedded resource) in the bridge's
        scheme, so that a client can read back, through the bridge, a resource a tool or
        prompt points at."""
        if isinstance(block, types.ResourceLink):
            return block.model_copy(update={"uri": self.expose_uri(upstream, str(block.uri))})
        if isinstance(block, types.EmbeddedResource):
            inner = block.resource.model_copy(
                update={"uri": self.expose_uri(upstream, str(block.resource.uri))}
            )
            return block.model_copy(update={"resource": inner})
        return block

    def expose_tool_result(self, upstream: str, result: Any) -> Any:
        if not isinstance(result, types.CallToolResult):
            return result
        content = [self.expose_content(upstream, block) for block in result.content]
        return result.model_copy(update={"content": content})

    def expose_prompt_result(self, upstream: str, result: Any) -> Any:
        if not isinstance(result, types.GetPromptResult):
            return result
        messages = [
            m.model_copy(update={"content": self.expose_content(upstream, m.content)})
            for m in result.messages
        ]
        return result.model_copy(update={"messages": messages})


__all__ = ["RESOURCE_SCHEME", "Naming", "expose", "expose_uri", "split", "split_uri"]
