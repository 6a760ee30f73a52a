"""The upstream list, read from the ``mcpServers`` file MCP users already write for clients.

Each entry is either a stdio server (``command``, ``args``, ``env``, ``cwd``) or a streamable-HTTP
server (``url``, ``headers``). The bridge-only key ``readOnly`` maps a tool name to ``true`` or
``false`` and overrides the upstream's ``readOnlyHint`` for that tool; ``access`` holds who may use
the upstream and its tools (``policy.py``); ``protocol`` chooses how the bridge talks to it
(:data:`PROTOCOLS`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_bridge.config import ConfigError

from .policy import Access, Level, parse_access

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
SEPARATOR = "__"

PROTOCOLS = {
    "auto": "auto",
    "session": "legacy",
}
"""``protocol`` values → the SDK client's connect mode.

``auto`` (the default) speaks 2026-07-28 to an upstream that offers it and the session protocol
(``initialize``) otherwise. ``session`` always opens an ``initialize`` session, so that
``logging/setLevel``, ``resources/subscribe`` and server-to-client requests reach the upstream as
session-protocol clients send them (a 2026-07-28 upstream has none of these; see bridge.md).
"""


@dataclass(frozen=True)
class UpstreamSpec:
    """One configured upstream server."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    read_only: dict[str, bool] = field(default_factory=dict)
    access: Access = field(default_factory=lambda: Access(Level("access")))
    prefix: bool = True
    protocol: str = "auto"

    @property
    def kind(self) -> str:
        return "stdio" if self.command else "http"


def load_upstreams(path: Path) -> list[UpstreamSpec]:
    """Parse the config file; raise :class:`ConfigError` naming every problem found."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"BRIDGE_CONFIG={path} does not exist"]) from None
    except (OSError, ValueError) as exc:
        raise ConfigError([f"BRIDGE_CONFIG={path} is not readable JSON: {exc}"]) from None
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(servers, dict) or not servers:
        raise ConfigError([f"BRIDGE_CONFIG={path} needs a non-empty object under 'mcpServers'"])
    problems: list[str] = []
    specs = [_parse_entry(name, entry, problems) for name, entry in servers.items()]
    problems += [
        f"mcpServers.{s.name}.prefix is false, which needs {s.name} to be the only upstream "
        "(unprefixed names of several upstreams could collide)"
        for s in specs
        if not s.prefix and len(specs) > 1
    ]
    if problems:
        raise ConfigError([f"BRIDGE_CONFIG={path}: {p}" for p in problems])
    return specs


def _parse_entry(name: str, entry: Any, problems: list[str]) -> UpstreamSpec:
    if not NAME_PATTERN.match(name):
        problems.append(
            f"server name {name!r} must be 1-32 letters, digits or '-' (it prefixes tool names "
            f"as name{SEPARATOR}tool)"
        )
    if not isinstance(entry, dict):
        problems.append(f"mcpServers.{name} must be an object")
        return UpstreamSpec(name=name, url="invalid:")
    has_command, has_url = "command" in entry, "url" in entry
    if has_command == has_url:
        problems.append(f"mcpServers.{name} needs exactly one of 'command' or 'url'")
    read_only = entry.get("readOnly", {})
    if not isinstance(read_only, dict) or not all(isinstance(v, bool) for v in read_only.values()):
        problems.append(f"mcpServers.{name}.readOnly must map tool names to true/false")
        read_only = {}
    return UpstreamSpec(
        name=name,
        command=_str(entry.get("command"), f"mcpServers.{name}.command", problems),
        args=tuple(_str_list(entry.get("args", []), f"mcpServers.{name}.args", problems)),
        env=_str_map(entry.get("env", {}), f"mcpServers.{name}.env", problems),
        cwd=_str(entry.get("cwd"), f"mcpServers.{name}.cwd", problems),
        url=_str(entry.get("url"), f"mcpServers.{name}.url", problems),
        headers=_str_map(entry.get("headers", {}), f"mcpServers.{name}.headers", problems),
        read_only=dict(read_only),
        access=parse_access(f"mcpServers.{name}.access", entry.get("access"), problems),
        prefix=_bool(entry.get("prefix", True), f"mcpServers.{name}.prefix", problems),
        protocol=_protocol(entry.get("protocol", "auto"), f"mcpServers.{name}.protocol", problems),
    )


def _protocol(value: Any, where: str, problems: list[str]) -> str:
    if value in PROTOCOLS:
        return str(value)
    problems.append(f"{where} must be one of {', '.join(map(repr, PROTOCOLS))}, not {value!r}")
    return "auto"


def _bool(value: Any, where: str, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    problems.append(f"{where} must be true or false")
    return True


def _str(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{where} must be a string")
    return None


def _str_list(value: Any, where: str, problems: list[str]) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    problems.append(f"{where} must be a list of strings")
    return []


def _str_map(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    problems.append(f"{where} must map names to strings")
    return {}


__all__ = ["NAME_PATTERN", "PROTOCOLS", "SEPARATOR", "UpstreamSpec", "load_upstreams"]
