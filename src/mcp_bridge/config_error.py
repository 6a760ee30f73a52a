"""``ConfigError``, apart from ``config`` so that tools which never load settings (the verify
CLI) can catch it without importing pydantic."""

from __future__ import annotations


class ConfigError(ValueError):
    """Configuration is invalid; ``problems`` holds one line per bad variable."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))

    def render(self) -> str:
        return str(self)


__all__ = ["ConfigError"]
