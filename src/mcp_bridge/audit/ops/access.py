"""``access-report`` (checklist: permissions audit): who can change or remove the audit trail.

Reads the bucket policy, ownership controls, public access block, Object Lock configuration
and versioning, and analyses the policy (:mod:`.access_policy`): every statement granting
write, delete, retention change or governance bypass on the audit prefix is listed, and it is a
finding (exit 1) when ``s3:DeleteObjectVersion`` or ``s3:BypassGovernanceRetention`` is allowed
to anyone but the incident role (``--incident-principal``) or not explicitly denied to everyone
else, or when a bucket control is missing. What it cannot see is said in the report: IAM
identity policies are not readable with S3 permissions (export them with ``aws iam
get-role-policy`` / ``get-policy-version`` and pass ``--identity-policy PRINCIPAL=FILE``), nor
are KMS key policies, SCPs or permission boundaries. On a local store the same command audits
the file system's permissions instead (:mod:`.access_local`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli_support import EXIT_FAILED, EXIT_OK
from ..errors import AuditUsageError
from . import cli
from .access_local import local_access_report
from .access_policy import Finding, PolicyAnalysis, analyse, report_document
from .forensic import s3_connection
from .trail import Location, RunOptions, parse_location

CANNOT_SEE = (
    "IAM identity policies (need iam:GetRolePolicy/GetPolicyVersion; pass exported documents "
    "with --identity-policy PRINCIPAL=FILE), KMS key policies, organization SCPs and permission "
    "boundaries are not read; conditions are listed, not evaluated"
)


@dataclass(slots=True)
class AccessReport:
    location: str
    controls: dict[str, Any]
    analysis: PolicyAnalysis
    findings: list[Finding] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return report_document(
            self.location,
            self.controls,
            self.findings,
            CANNOT_SEE,
            grants=[grant.to_dict() for grant in self.analysis.grants],
            unreadable=self.unreadable,
        )

    def render_text(self) -> str:
        lines = [f"access report for {self.location}"]
        for name, value in self.controls.items():
            lines.append(f"  {name}: {json.dumps(value)}")
        count = len(self.analysis.grants)
        lines.append(f"grants of write/delete/retention/bypass on the prefix: {count}")
        for grant in self.analysis.grants:
            cond = " (conditional)" if grant.conditional else ""
            lines.append(
                f"  {grant.source} {grant.sid}: {', '.join(grant.principals)} → "
                f"{', '.join(grant.actions)}{cond}"
            )
        for finding in self.findings:
            lines.append(f"FINDING {finding.reason}: {finding.message}\n    fix: {finding.fix}")
        for name, code in self.unreadable.items():
            lines.append(f"could not read the {name}: {code}")
        lines.append(f"not seen: {CANNOT_SEE}")
        lines.append("OK: no finding" if self.ok else f"{len(self.findings)} finding(s)")
        return "\n".join(lines)


def _control_findings(controls: dict[str, Any], unreadable: dict[str, str]) -> list[Finding]:
    """Missing bucket controls; a control the store would not show is reported as unreadable."""
    found = []
    block = controls["publicAccessBlock"] or {}
    if "public access block" not in unreadable and (not block or not all(block.values())):
        found.append(
            Finding(
                "public_access_not_blocked",
                f"public access block is {block or 'not configured'}",
                "enable all four public access block settings on the bucket",
            )
        )
    if "ownership controls" not in unreadable and controls["ownership"] != ["BucketOwnerEnforced"]:
        found.append(
            Finding(
                "acls_enabled",
                f"object ownership {controls['ownership'] or 'not configured'}: ACLs can grant "
                "access outside the policy",
                "set object ownership to BucketOwnerEnforced",
            )
        )
    lock = controls["objectLock"] or {}
    if lock.get("ObjectLockEnabled") != "Enabled":
        found.append(
            Finding(
                "object_lock_disabled",
                "Object Lock is not enabled on the bucket",
                "the trail needs a bucket created with Object Lock (docs/mcp-bridge/s3.md)",
            )
        )
    if controls["versioning"] != "Enabled":
        found.append(
            Finding(
                "versioning_disabled",
                f"versioning is {controls['versioning'] or 'off'}",
                "Object Lock requires versioning; recreate the bucket with Object Lock",
            )
        )
    return found


def access_report(
    location: Location,
    s3: RunOptions,
    *,
    incident: Sequence[str] = (),
    identity_policies: Sequence[tuple[str, dict[str, Any]]] = (),
) -> AccessReport:
    from ..storage.s3.ops import bucket_controls

    assert location.bucket is not None
    found = bucket_controls(s3_connection(s3), location.bucket)
    controls = {
        "bucketPolicy": found.policy,
        "ownership": found.ownership,
        "publicAccessBlock": found.public_access_block,
        "objectLock": found.object_lock,
        "versioning": found.versioning,
    }
    documents = [("bucket policy", found.policy or {}, "*")]
    documents += [(f"identity policy of {who}", doc, who) for who, doc in identity_policies]
    analysis = analyse(documents, bucket=location.bucket, prefix=location.prefix, incident=incident)
    report = AccessReport(location.text, controls, analysis, unreadable=dict(found.unreadable))
    report.findings = analysis.findings + _control_findings(controls, report.unreadable)
    return report


def _identity_policy(text: str) -> tuple[str, dict[str, Any]]:
    principal, _, path = text.partition("=")
    if not principal or not path:
        raise AuditUsageError(f"--identity-policy {text!r}: write it as PRINCIPAL_ARN=FILE")
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AuditUsageError(
            f"--identity-policy {path}: not a readable JSON policy ({exc})"
        ) from None
    return principal, document


def build_parser() -> argparse.ArgumentParser:
    made = cli.parser("access-report", "who can write, delete, unlock or bypass the audit prefix")
    made.add_argument(
        "path",
        help="the audit trail: s3://bucket/prefix (bucket controls and policies) or a local "
        "store directory (owner and modes of every file and directory)",
    )
    made.add_argument(
        "--incident-principal",
        action="append",
        default=[],
        help="ARN of the incident role (may hold DeleteObjectVersion/BypassGovernanceRetention)",
    )
    made.add_argument(
        "--identity-policy",
        action="append",
        default=[],
        help="PRINCIPAL_ARN=FILE: an exported IAM identity policy to include (repeatable)",
    )
    cli.add_s3(made)
    return made


def execute(args: argparse.Namespace) -> int:
    location = parse_location(args.path)
    if location.root is not None:
        if args.incident_principal or args.identity_policy or args.endpoint_url or args.region:
            raise AuditUsageError(
                "--incident-principal, --identity-policy, --region and --endpoint-url apply to "
                "s3:// locations; a local store's access is its file system permissions"
            )
        local = local_access_report(location.root)
        cli.emit(local.to_dict(), local.render_text(), args.json)
        return EXIT_OK if local.ok else EXIT_FAILED
    policies = [_identity_policy(text) for text in args.identity_policy]
    report = access_report(
        location, cli.s3_of(args), incident=args.incident_principal, identity_policies=policies
    )
    cli.emit(report.to_dict(), report.render_text(), args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(build_parser(), argv, execute)
