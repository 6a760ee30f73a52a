"""The permissions analysis on policy documents (pure): what SeaweedFS cannot show us."""

from __future__ import annotations

from typing import Any

from mcp_bridge.audit.ops.access_policy import analyse

WRITER = "arn:aws:iam::1:role/writer"
INCIDENT = "arn:aws:iam::1:role/incident"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


DENY_OTHERS = {
    "Sid": "OnlyIncident",
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
    "Resource": "arn:aws:s3:::acme/audit/*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": INCIDENT}},
}


def reasons(document: dict[str, Any], **options: Any) -> list[str]:
    found = analyse([("bucket policy", document, "*")], bucket="acme", prefix="audit", **options)
    return [finding.reason for finding in found.findings]


def test_the_recommended_policy_has_no_finding() -> None:
    writer = {
        "Effect": "Allow",
        "Principal": {"AWS": WRITER},
        "Action": ["s3:PutObject", "s3:PutObjectRetention"],
        "Resource": "arn:aws:s3:::acme/audit/*",
    }
    incident = {
        "Effect": "Allow",
        "Principal": {"AWS": INCIDENT},
        "Action": ["s3:PutObjectLegalHold", "s3:BypassGovernanceRetention"],
        "Resource": "arn:aws:s3:::acme/audit/*",
    }
    document = policy(DENY_OTHERS, writer, incident)
    assert reasons(document, incident=[INCIDENT]) == []
    found = analyse([("p", document, "*")], bucket="acme", prefix="audit", incident=[INCIDENT])
    assert [g.principals for g in found.grants] == [(WRITER,), (INCIDENT,)]


def test_a_wildcard_grant_to_the_writer_is_found() -> None:
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": [WRITER]},
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::acme/*",
    }
    assert reasons(policy(DENY_OTHERS, grant), incident=[INCIDENT]) == [
        "restricted_action_allowed",
        "restricted_action_allowed",
    ]


def test_not_action_grants_everything_else() -> None:
    grant = {
        "Effect": "Allow",
        "Principal": "*",
        "NotAction": "s3:GetObject",
        "Resource": "*",
    }
    assert "restricted_action_allowed" in reasons(policy(DENY_OTHERS, grant))


def test_other_prefixes_and_missing_denies() -> None:
    elsewhere = {
        "Effect": "Allow",
        "Principal": {"AWS": WRITER},
        "Action": "s3:DeleteObjectVersion",
        "Resource": "arn:aws:s3:::acme/tmp/*",
    }
    assert reasons(policy(elsewhere)) == ["restricted_action_not_denied"] * 2
    assert reasons({}) == ["restricted_action_not_denied"] * 2


def test_identity_policies_count_for_their_principal() -> None:
    identity = policy(
        {"Effect": "Allow", "Action": "s3:BypassGovernanceRetention", "Resource": "*"}
    )
    found = analyse(
        [("bucket policy", policy(DENY_OTHERS), "*"), ("identity policy", identity, WRITER)],
        bucket="acme",
        prefix="audit",
        incident=[INCIDENT],
    )
    assert [(f.reason, WRITER in f.message) for f in found.findings] == [
        ("restricted_action_allowed", True)
    ]
