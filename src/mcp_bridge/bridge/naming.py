"""How upstream tools, prompts and resources are named on the bridge's single endpoint.

Tools and prompts: ``<upstream>__<name>`` (``git__git_status``). Upstream names cannot contain
``_``, so the first ``__`` always splits correctly. Resources: ``mcp-bridge://<upstream>/<uri>``
where ``<uri>`` is the upstream's URI unchanged, so two upstreams may use the same URI.
"""

from __future__ import annotations

from .upstream_config import SEPARATOR

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


__all__ = ["RESOURCE_SCHEME", "expose", "expose_uri", "split", "split_uri"]
