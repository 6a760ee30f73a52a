"""Quarantine, locate and restore on a real S3 server (SeaweedFS), as the incident role."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.storage.s3.layout import GENESIS_DAY, segment_key

from ..ops.helpers import audit, timeline_plan
from .conftest import Clock
from .seaweed import ATTACKER, SeaweedServer, make_bucket


@pytest.fixture(autouse=True)
def ops_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(tmp_path / "ops-records"))
    return tmp_path / "ops-records"


@pytest.fixture
def written(open_trail, clock: Clock) -> list[dict[str, Any]]:
    """Two days of records (several segments each)."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(4)]
    clock.now = clock.now.replace(day=25)
    records += [trail.record_event("e", {"n": n}) for n in range(4, 8)]
    trail.close()
    return records


def versions(
    seaweed: SeaweedServer, bucket: str, prefix: str = "audit/"
) -> list[tuple[str, str, bool]]:
    listed = seaweed.client().list_object_versions(Bucket=bucket, Prefix=prefix)
    found = [(v["Key"], v["VersionId"], False) for v in listed.get("Versions", [])]
    found += [(m["Key"], m["VersionId"], True) for m in listed.get("DeleteMarkers", [])]
    return sorted(found)


def data_keys(seaweed: SeaweedServer, bucket: str) -> list[str]:
    genesis = segment_key("audit", GENESIS_DAY, 0)
    return sorted({key for key, _, _ in versions(seaweed, bucket)} - {genesis})


def body(seaweed: SeaweedServer, bucket: str, key: str, version: str) -> bytes:
    return seaweed.client().get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()


def tamper(seaweed: SeaweedServer, bucket: str) -> tuple[str, str]:
    """The attacker (writer credentials) re-puts one segment and deletes another."""
    keys = data_keys(seaweed, bucket)
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=keys[1], Body=b"forged\n")
    seaweed.client(ATTACKER).delete_object(Bucket=bucket, Key=keys[2])
    return keys[1], keys[2]


def test_quarantine_on_s3_copies_every_version_and_marker_to_a_directory(
    written, bucket: str, seaweed: SeaweedServer, tmp_path: Path, capsys, ops_records: Path
) -> None:
    tamper(seaweed, bucket)
    source = versions(seaweed, bucket)
    source_bytes = {(k, v): body(seaweed, bucket, k, v) for k, v, marker in source if not marker}
    forensic = tmp_path / "forensic"
    url = f"s3://{bucket}/audit"

    done = audit(capsys, "quarantine", url, "--to", str(forensic), "--json")
    assert done.code == 0, done.err
    manifest = json.loads(Path(done.json["manifest"]).read_text())
    copied = sorted((i["key"], i["versionId"], i["deleteMarker"]) for i in manifest["items"])
    assert copied == source, "every version and delete marker of every key"
    for item in manifest["items"]:
        copy = (forensic / item["copy"]).read_bytes()
        if item["deleteMarker"]:
            assert copy == b"" and item["copy"].endswith(".delete-marker")
            continue
        assert copy == source_bytes[(item["key"], item["versionId"])]
        assert item["etag"] and "retainUntil" in item and "kmsKeyId" in item
        assert "legalHold" in item and "objectLockMode" in item
    forged = [i for i in manifest["items"] if not i["deleteMarker"] and i["objectLockMode"] is None]
    assert len(forged) == 1, "the attacker's version carries no lock; every original does"
    assert {r.value for r in (Reason.OBJECT_OVERWRITTEN, Reason.OBJECT_DELETED)} <= {
        f["reason"] for f in manifest["verification"]["failures"]
    }
    assert versions(seaweed, bucket) == source, "the source is never changed"
    assert {k: body(seaweed, bucket, *k) for k in source_bytes} == source_bytes

    files = sorted(p for p in forensic.rglob("*") if p.is_file())
    again = audit(capsys, "quarantine", url, "--to", str(forensic), "--json")
    assert again.code == 0 and again.json["newCopies"] == 0 and again.json["manifest"] is None
    assert sorted(p for p in forensic.rglob("*") if p.is_file()) == files
    assert len(list(ops_records.glob("*-quarantine-*.json"))) == 1


def test_quarantine_to_a_forensic_bucket_with_legal_hold(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    _, deleted = tamper(seaweed, bucket)
    forensic = f"forensic-{secrets.token_hex(4)}"
    make_bucket(seaweed, forensic, object_lock=False)
    source = versions(seaweed, bucket)
    to = f"s3://{forensic}/case-1"

    done = audit(
        capsys,
        "quarantine",
        f"s3://{bucket}/audit",
        "--to",
        to,
        "--legal-hold",
        "--json",
        "--start",
        "2025/10/24",
        "--end",
        "2025/10/25",
    )
    assert done.code == 0, done.err
    data_versions = [(k, v) for k, v, marker in source if not marker and "/1970/" not in k]
    assert done.json["legalHoldsPlaced"] == len(data_versions)
    client = seaweed.client()
    for key, version in data_versions:
        hold = client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
        assert hold["LegalHold"]["Status"] == "ON"
        copy = client.get_object(Bucket=forensic, Key=f"case-1/objects/{key}@{version}")
        assert copy["Body"].read() == body(seaweed, bucket, key, version)
    [marker] = [(k, v) for k, v, m in source if m]
    assert marker[0] == deleted
    client.head_object(Bucket=forensic, Key=f"case-1/objects/{deleted}@{marker[1]}.delete-marker")
    assert versions(seaweed, bucket) == source

    whole = ["quarantine", f"s3://{bucket}/audit", "--to", to, "--legal-hold", "--json"]
    wider = audit(capsys, *whole)
    assert wider.code == 0 and wider.json["newCopies"] == wider.json["legalHoldsPlaced"] == 1, (
        "only the genesis forward marker (day 1970/01/01) lies outside the first window"
    )
    again = audit(capsys, *whole)
    assert again.code == 0 and again.json["newCopies"] == again.json["legalHoldsPlaced"] == 0
    assert again.json["manifest"] is None


def test_quarantine_on_s3_from_a_verification_report_copies_what_it_names(
    written, bucket: str, seaweed: SeaweedServer, tmp_path: Path, capsys
) -> None:
    overwritten, deleted = tamper(seaweed, bucket)
    url = f"s3://{bucket}/audit"
    verified = audit(capsys, "verify", url, "--json")
    assert verified.code == 1
    report = tmp_path / "report.json"
    report.write_text(verified.out)
    forensic = tmp_path / "forensic"
    done = audit(capsys, "quarantine", url, "--from-report", str(report), "--to", str(forensic))
    assert done.code == 0, done.out + done.err
    manifest = json.loads(next((forensic / "manifests").iterdir()).read_text())
    named = {item["key"] for item in manifest["items"]}
    assert {overwritten, deleted} <= named, "both objects the report names"
    assert named < set(data_keys(seaweed, bucket)), "only what the report names"
    expected = [(k, v, m) for k, v, m in versions(seaweed, bucket) if k in named]
    copied = sorted((i["key"], i["versionId"], i["deleteMarker"]) for i in manifest["items"])
    assert copied == expected, "every version and marker of the named keys, nothing else"


def test_quarantine_into_the_trails_own_prefix_is_refused(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    """Copies below the log prefix would be objects the writer never made (the verifier then
    fails on them, and Object Lock may keep them): refused before anything is written."""
    source = versions(seaweed, bucket, prefix="")
    to = f"s3://{bucket}/audit/forensic"
    done = audit(capsys, "quarantine", f"s3://{bucket}/audit", "--to", to)
    assert done.code == 2 and f"--to {to} overlaps the audit trail" in done.err
    assert versions(seaweed, bucket, prefix="") == source
    assert audit(capsys, "quarantine", f"s3://{bucket}/audit", "--to", f"s3://{bucket}/f").code == 0


def test_replay_on_s3_pairs_intent_and_outcome_and_flags_the_lost_intent(
    open_trail, bucket: str, clock: Clock, capsys
) -> None:
    trail = open_trail(clock)
    records = [trail.record_event(event_type, payload) for event_type, payload in timeline_plan()]
    trail.close()
    url = f"s3://{bucket}/audit"
    done = audit(capsys, "replay", url, "--correlation-id", "c-1", "--json")
    assert done.code == 0, done.out + done.err
    events = done.json["events"]
    assert [e["seq"] for e in events] == [0, 3] and all(e["verified"] for e in events)
    assert events[0]["pairedWith"] == 3 and events[1]["pairedWith"] == 0
    lost = audit(capsys, "replay", url, "--session", "s-1", "--json")
    assert lost.code == 1
    assert lost.json["flagged"] == [
        {"seq": 2, "flag": "intent_without_outcome", "eventId": records[2]["eventId"]}
    ]


def test_locate_on_s3_names_the_hidden_segment_and_its_neighbours(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    overwritten, _ = tamper(seaweed, bucket)
    done = audit(capsys, "locate", f"s3://{bucket}/audit", "--json")
    assert done.code == 1
    found = done.json
    assert found["earliestFailure"]["reason"] == "object_overwritten"
    assert found["earliestFailure"]["location"] == overwritten
    assert found["failingLine"]["location"] == overwritten and found["failingLine"]["hashOk"]
    at = found["failingLine"]["seq"]
    assert found["lastGoodBefore"]["seq"] == at - 1
    assert [n["seq"] for n in found["after"]] == [at + 1, at + 2, at + 3]


def test_restore_an_s3_key_hidden_by_a_delete_marker(
    written, bucket: str, seaweed: SeaweedServer, tmp_path: Path, capsys
) -> None:
    key = data_keys(seaweed, bucket)[2]
    seaweed.client(ATTACKER).delete_object(Bucket=bucket, Key=key)
    url, forensic = f"s3://{bucket}/audit", str(tmp_path / "forensic")
    assert [f.reason for f in verify_audit_trail(url).failures] == [Reason.OBJECT_DELETED]

    unquarantined = audit(capsys, "restore", url, "--from", "versions", "--apply", "--json")
    assert unquarantined.code == 1
    assert [a["reason"] for a in unquarantined.json["actions"]] == ["not_quarantined"]

    assert audit(capsys, "quarantine", url, "--to", forensic).code == 0
    before = versions(seaweed, bucket)
    dry = audit(capsys, "restore", url, "--from", "versions", "--forensic", forensic, "--json")
    assert dry.code == 0, dry.out
    assert [(a["kind"], a["status"]) for a in dry.json["actions"]] == [("unhide", "planned")]
    assert versions(seaweed, bucket) == before, "a dry run changes nothing"

    done = audit(
        capsys, "restore", url, "--from", "versions", "--forensic", forensic, "--apply", "--json"
    )
    assert done.code == 0, done.out
    assert done.json["verificationAfter"]["ok"]
    assert verify_audit_trail(url).ok
    assert seaweed.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def _copy_trail(seaweed: SeaweedServer, source: str, target: str, skip: set[str]) -> None:
    client = seaweed.client()
    for key, version, marker in versions(seaweed, source):
        if marker or key in skip:
            continue
        got = client.get_object(Bucket=source, Key=key, VersionId=version)
        client.put_object(
            Bucket=target, Key=key, Body=got["Body"].read(), Metadata=got.get("Metadata", {})
        )


def test_restore_a_missing_segment_from_a_replica_and_refuse_one_that_does_not_chain(
    written, bucket: str, seaweed: SeaweedServer, open_trail, capsys, tmp_path: Path
) -> None:
    missing = data_keys(seaweed, bucket)[3]
    primary = f"primary-{secrets.token_hex(4)}"
    make_bucket(seaweed, primary)
    _copy_trail(seaweed, bucket, primary, skip={missing})
    url = f"s3://{primary}/audit"
    assert not verify_audit_trail(url, object_lock=False).ok

    other = f"other-{secrets.token_hex(4)}"
    make_bucket(seaweed, other)
    for key, version, marker in versions(seaweed, bucket):
        if not marker and key == missing:
            forged = body(seaweed, bucket, key, version).replace(b'"n":', b'"m":')
            seaweed.client().put_object(Bucket=other, Key=key, Body=forged)
    before = versions(seaweed, primary)
    refused = audit(capsys, "restore", url, "--from", f"s3://{other}/audit", "--apply", "--json")
    assert refused.code == 1
    assert [(a["target"], a["reason"]) for a in refused.json["actions"]] == [
        (missing, "does_not_chain")
    ]
    assert versions(seaweed, primary) == before

    done = audit(
        capsys,
        "restore",
        url,
        "--from",
        f"s3://{bucket}/audit",
        "--apply",
        "--json",
        "--object-lock-mode",
        "governance",
        "--object-lock-days",
        "1",
    )
    assert done.code == 0, done.out
    assert [(a["target"], a["status"]) for a in done.json["actions"]] == [(missing, "applied")]
    assert verify_audit_trail(url, object_lock=False).ok
    head = seaweed.client().head_object(Bucket=primary, Key=missing)
    assert head["ObjectLockMode"] == "GOVERNANCE", "put back with the writer's Object Lock"
