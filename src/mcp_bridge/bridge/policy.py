"""Who may use which upstream and tool: the ``access`` rules of each ``mcpServers`` entry.

::

    "git": {"command": "mcp-server-git",
            "access": {"allow": [{"roles": ["dev", "ops"]}],
                       "deny": [{"subjects": ["intern-bot"]}],
                       "tools": {"git_commit": {"allow": [{"roles": ["ops"]}]}}}}

A rule matches a caller whose subject is in ``subjects`` or who holds one of ``roles``; ``"*"``
matches every caller. Evaluation, before anything is forwarded: a matching ``deny`` (the tool's,
then the upstream's) refuses; otherwise the most specific ``allow`` list present (the tool's, else
the upstream's) must have a matching rule; with no ``allow`` list at either level the call is
allowed (the default is allow-all). Every decision names the rule that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .auth import Identity

EVERYONE = "*"
DEFAULT_RULE = "default allow-all (no access rules)"


@dataclass(frozen=True)
class Rule:
    """One ``allow``/``deny`` entry; ``where`` is its place in BRIDGE_CONFIG."""

    where: str
    subjects: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def matches(self, identity: Identity) -> bool:
        if EVERYONE in self.subjects or EVERYONE in self.roles:
            return True
        return identity.subject in self.subjects or bool(self.roles.intersection(identity.roles))


@dataclass(frozen=True)
class Level:
    """The rules of one level (an upstream, or one of its tools)."""

    where: str
    allow: tuple[Rule, ...] | None = None
    deny: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Access:
    """An upstream's rules: its own level and one level per named tool."""

    upstream: Level
    tools: dict[str, Level] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.upstream == Level(self.upstream.where) and not self.tools


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str
    reason: str

    def as_payload(self) -> dict[str, Any]:
        return {"outcome": "allowed" if self.allowed else "refused", "rule": self.rule}


def decide(access: Access, tool: str | None, identity: Identity) -> Decision:
    """Whether ``identity`` may use the upstream (and ``tool``, for ``tools/call``)."""
    levels = [lvl for lvl in (access.tools.get(tool) if tool else None, access.upstream) if lvl]
    for level in levels:
        for rule in level.deny:
            if rule.matches(identity):
                return Decision(False, rule.where, f"{identity.subject} matches {rule.where}")
    for level in levels:
        if level.allow is None:
            continue
        for rule in level.allow:
            if rule.matches(identity):
                return Decision(True, rule.where, "allowed")
        return Decision(
            False, f"{level.where}.allow", f"{identity.subject} matches no rule of {level.where}"
        )
    return Decision(True, DEFAULT_RULE, "allowed")


def parse_access(where: str, value: Any, problems: list[str]) -> Access:
    """Read an ``access`` object; every malformed part is added to ``problems``."""
    if value is None:
        return Access(Level(where))
    if not isinstance(value, dict):
        problems.append(f"{where} must be an object with allow, deny and tools")
        return Access(Level(where))
    tools = value.get("tools", {})
    if not isinstance(tools, dict):
        problems.append(f"{where}.tools must map tool names to {{allow, deny}}")
        tools = {}
    return Access(
        _level(where, value, problems, extra={"tools"}),
        {name: _level(f"{where}.tools.{name}", v, problems) for name, v in tools.items()},
    )


def _level(where: str, value: Any, problems: list[str], extra: set[str] | None = None) -> Level:
    if not isinstance(value, dict):
        problems.append(f"{where} must be an object with allow and/or deny")
        return Level(where)
    unknown = set(value) - {"allow", "deny"} - (extra or set())
    if unknown:
        problems.append(f"{where} has unknown keys {sorted(unknown)} (allowed: allow, deny)")
    allow = _rules(f"{where}.allow", value["allow"], problems) if "allow" in value else None
    return Level(where, allow, _rules(f"{where}.deny", value.get("deny", []), problems))


def _rules(where: str, value: Any, problems: list[str]) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        problems.append(f"{where} must be a list of {{subjects, roles}} rules")
        return ()
    return tuple(_rule(f"{where}[{i}]", item, problems) for i, item in enumerate(value))


def _rule(where: str, value: Any, problems: list[str]) -> Rule:
    if not isinstance(value, dict) or not value or set(value) - {"subjects", "roles"}:
        problems.append(f"{where} must be an object with 'subjects' and/or 'roles' (lists)")
        return Rule(where)
    return Rule(
        where,
        _names(f"{where}.subjects", value.get("subjects", []), problems),
        _names(f"{where}.roles", value.get("roles", []), problems),
    )


def _names(where: str, value: Any, problems: list[str]) -> frozenset[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    problems.append(f"{where} must be a list of strings")
    return frozenset()


__all__ = ["DEFAULT_RULE", "Access", "Decision", "Level", "Rule", "decide", "parse_access"]
