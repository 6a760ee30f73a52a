"""``incident report`` (runbook §4: "document the incident in ops records with verification
logs attached"): one folder per incident with everything it produced and a SHA-256 of each file.

Gathers every ops record filed under ``--incident ID`` (quarantine, locate, restore, …) with
their attachments, the quarantine manifests those records name, any ``--attach FILE`` given
(reports, logs), and optionally a fresh verification (``--verify LOCATION``); writes them into
``AUDIT_OPS_RECORDS_PATH/incidents/<ID>-<time>/`` with ``SHA256SUMS``, ``index.json`` and a
readable ``README.md``. Files are created once, never rewritten.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from . import cli
from .forensic import s3_connection
from .records import OpsRecords, create_file, iso_now, operator, sha256_bytes, utc_stamp
from .trail import FROM_ENV, WHOLE, RunOptions, Window, parse_location, verify_window

SCHEMA = "mcp-bridge/incident-report/v1"
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


@dataclass(slots=True)
class IncidentReport:
    incident: str
    folder: Path
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    records: list[str] = field(default_factory=list)
    verification_ok: bool | None = None

    def add(self, name: str, data: bytes) -> None:
        create_file(self.folder / name, data)
        self.files[name] = sha256_bytes(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "incident": self.incident,
            "folder": str(self.folder),
            "records": self.records,
            "files": self.files,
            "verificationOk": self.verification_ok,
        }


def _fetch(location: str, s3: RunOptions) -> bytes | None:
    """A manifest named by a quarantine record (a local path or an s3:// URL)."""
    if location.startswith("s3://"):
        from ..storage.s3.client import get_object

        parsed = parse_location(location)
        assert parsed.bucket is not None
        found = get_object(s3_connection(s3), parsed.bucket, parsed.prefix)
        return found.body if found else None
    path = Path(location)
    return path.read_bytes() if path.is_file() else None


def assemble(
    records: OpsRecords,
    incident: str,
    *,
    attach: Sequence[Path] = (),
    verify: str | None = None,
    window: Window = WHOLE,
    s3: RunOptions = FROM_ENV,
) -> IncidentReport:
    if not _ID.match(incident):
        raise AuditUsageError(f"incident id {incident!r} must be 1-64 of A-Z a-z 0-9 . _ -")
    found = list(records.of_incident(incident))
    if not found and not attach and verify is None:
        raise AuditUsageError(
            f"no ops records filed under incident {incident!r} in {records.root}",
            hint="run quarantine/locate/restore with --incident ID, or give --attach/--verify",
        )
    report = IncidentReport(incident, records.root / "incidents" / f"{incident}-{utc_stamp()}")
    for path, record in found:
        report.records.append(path.name)
        report.add(f"records/{path.name}", path.read_bytes())
        for attached in record.get("attachments", {}).values():
            extra = path.parent / attached["file"]
            report.add(f"records/{extra.name}", extra.read_bytes())
        manifest = record.get("result", {}).get("manifest")
        data = _fetch(manifest, s3) if manifest else None
        if data is not None:
            report.add(f"manifests/{manifest.rsplit('/', 1)[-1]}", data)
    for path in attach:
        try:
            report.add(f"attachments/{path.name}", path.read_bytes())
        except OSError as exc:
            raise AuditUsageError(f"--attach {path}: {exc.strerror or exc}") from None
    if verify is not None:
        result = verify_window(parse_location(verify), window, s3)
        report.verification_ok = result.ok
        report.add("verification.json", json.dumps(result.to_dict(), indent=2).encode())
        report.add("verification.log", (result.render_text() + "\n").encode())
    _finish(report)
    return report


def _finish(report: IncidentReport) -> None:
    sums = "".join(f"{digest}  {name}\n" for name, digest in sorted(report.files.items()))
    index = {**report.to_dict(), "operator": operator(), "at": iso_now()}
    rows = "\n".join(f"| `{n}` | `{d}` |" for n, d in sorted(report.files.items()))
    readme = (
        f"# Incident {report.incident}\n\nAssembled {index['at']} by {index['operator']}.\n\n"
        f"Verification at assembly: {report.verification_ok}\n\n"
        f"| file | SHA-256 |\n|---|---|\n{rows}\n\n"
        "Check with `sha256sum -c SHA256SUMS` inside this folder.\n"
    )
    create_file(report.folder / "index.json", json.dumps(index, indent=2).encode())
    create_file(report.folder / "README.md", readme.encode())
    create_file(report.folder / "SHA256SUMS", sums.encode())


def add_arguments(made: argparse.ArgumentParser) -> None:
    made.add_argument("id", help="the incident id (as given to --incident)")
    made.add_argument(
        "--attach", type=Path, action="append", default=[], help="a file to include (repeatable)"
    )
    made.add_argument("--verify", help="also verify this trail now (directory or s3://…)")
    cli.add_window(made)
    cli.add_s3(made)


def execute(args: argparse.Namespace, argv: Sequence[str]) -> int:
    records = cli.ops_records()
    with cli.options(args) as run:
        report = assemble(
            records,
            args.id,
            attach=args.attach,
            verify=args.verify,
            window=cli.window_of(args),
            s3=run,
        )
    document = report.to_dict()
    record = records.write("incident-report", argv, incident=args.id, result=document)
    document["opsRecord"] = str(record)
    text = (
        f"incident {report.incident}: {len(report.files)} file(s) in {report.folder} "
        f"(SHA256SUMS, index.json, README.md); {len(report.records)} ops record(s)"
    )
    cli.emit(document, text, args.json)
    return EXIT_FAILED if report.verification_ok is False else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("incident report", "assemble one incident folder with SHA-256 of each file")
    add_arguments(made)
    return made


def main(argv: Sequence[str] | None = None) -> int:
    made = build_parser()
    words = cli.argv_or_sys(argv)
    return cli.run(made, words, lambda args: execute(args, words))
