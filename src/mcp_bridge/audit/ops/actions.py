"""One planned change of a restore: what it restores, from where, and what became of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..layout import day_key

#: Actions on an S3 trail's own versions (the original stays where it is; what hides it goes):
#: the chain check already reads the original versions, so they add nothing to its overlay.
IN_PLACE = frozenset({"unhide", "revert"})


@dataclass(slots=True)
class Action:
    """One planned change: what it restores, from where, and what became of it."""

    kind: str  # fill | replace | unhide | revert
    target: str
    source: str
    day: date
    status: str = "planned"  # planned | applied | refused | kept
    reason: str = ""
    detail: str = ""
    payload: Any = None  # the backup path or bytes (not rendered)
    metadata: dict[str, str] = field(default_factory=dict)  # S3 user metadata to restore

    def refuse(self, reason: str, detail: str) -> None:
        self.status, self.reason, self.detail = "refused", reason, detail

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "source": self.source,
            "day": day_key(self.day),
            "status": self.status,
            "reason": self.reason or None,
            "detail": self.detail or None,
        }

    def render(self) -> str:
        why = f" [{self.reason}] {self.detail}" if self.reason else ""
        return f"{self.status:9} {self.kind:7} {self.target} ← {self.source}{why}"
