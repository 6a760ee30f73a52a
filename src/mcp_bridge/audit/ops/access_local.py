"""``access-report DIR`` (checklist: permissions audit) on a local store: the file system's view.

A local trail's protection is its owner and modes: whoever may write a day file can rewrite it,
whoever may write a directory can delete or rename the files in it. So every directory and file
below the store (checkpoints and tiles included) is looked at, without following links, and
these are findings (exit 1): anything writable by others (``world_writable``) or by the group
(``group_writable``), anything not owned by the store's owner (``foreign_owner``), a symbolic
link (``symlink_in_store``: reads or writes could land outside), and a store root others may
read or enter (``other_access``). The walk is streamed (bounded memory); each finding names the
count and the first few paths.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .access_policy import Finding, report_document

LOCAL_CANNOT_SEE = (
    "who can act as the owner (root, sudo rules, the service account's credentials), POSIX ACLs "
    "(getfacl), SELinux/AppArmor labels, and who can reach the disk, its mounts or its backups"
)
_EXAMPLES = 5
_RULES = {
    "world_writable": (
        "writable by every user of the host",
        "chmod -R o-w on the store",
    ),
    "group_writable": (
        "writable by the group (members could rewrite or delete day files)",
        "chmod -R g-w on the store, unless the group is exactly the writer's service account",
    ),
    "foreign_owner": (
        "not owned by the store's owner (someone else wrote into the store)",
        "find out who created it (quarantine first), then restore the owner",
    ),
    "symlink_in_store": (
        "is a symbolic link (reads or writes could land outside the store)",
        "replace the link by the file it points to, after quarantining both",
    ),
}


@dataclass(slots=True)
class _Seen:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, path: Path) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(str(path))


@dataclass(slots=True)
class LocalAccessReport:
    location: str
    owner: str
    group: str
    mode: str
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        controls = {"owner": self.owner, "group": self.group, "mode": self.mode}
        return report_document(
            self.location, controls, self.findings, LOCAL_CANNOT_SEE, entriesChecked=self.entries
        )

    def render_text(self) -> str:
        lines = [
            f"access report for {self.location} (local store: file system permissions)",
            f"  owner {self.owner}, group {self.group}, mode {self.mode}; "
            f"{self.entries:,} file(s) and directories checked",
        ]
        for finding in self.findings:
            lines.append(f"FINDING {finding.reason}: {finding.message}\n    fix: {finding.fix}")
        lines.append(f"not seen: {LOCAL_CANNOT_SEE}")
        lines.append("OK: no finding" if self.ok else f"{len(self.findings)} finding(s)")
        return "\n".join(lines)


def _names(info: os.stat_result) -> tuple[str, str]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return user, group


def _entries(root: Path) -> Iterator[Path]:
    """Every directory and file below ``root`` (links listed, never followed)."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in sorted(dirs) + sorted(files):
            yield base / name


def local_access_report(root: Path) -> LocalAccessReport:
    top = root.stat()
    user, group = _names(top)
    report = LocalAccessReport(str(root), user, group, stat.filemode(top.st_mode))
    seen = {reason: _Seen() for reason in _RULES}
    for path in [root, *_entries(root)]:
        info = path.lstat()
        report.entries += 1
        if stat.S_ISLNK(info.st_mode):
            seen["symlink_in_store"].add(path)
            continue
        if info.st_mode & stat.S_IWOTH:
            seen["world_writable"].add(path)
        if info.st_mode & stat.S_IWGRP:
            seen["group_writable"].add(path)
        if info.st_uid != top.st_uid:
            seen["foreign_owner"].add(path)
    for reason, found in seen.items():
        if found.count:
            what, fix = _RULES[reason]
            examples = ", ".join(found.examples) + (" …" if found.count > _EXAMPLES else "")
            message = f"{found.count} path(s) {what}: {examples}"
            report.findings.append(Finding(reason, message, fix))
    if top.st_mode & (stat.S_IROTH | stat.S_IXOTH):
        report.findings.append(
            Finding(
                "other_access",
                f"the store root {root} ({report.mode}) can be read or entered by every user",
                "chmod o-rwx on the store root",
            )
        )
    return report
