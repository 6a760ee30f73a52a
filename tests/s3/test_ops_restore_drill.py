"""On SeaweedFS: restore of overwritten keys, restore and drill against signed checkpoints, a
drill into a scratch S3 prefix, and the incident report of an S3 incident end to end."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcp_bridge.audit import Reason, verify_audit_trail
from mcp_bridge.audit.checkpoint_check import CheckpointOptions
from mcp_bridge.audit.ops import drill as drill_module
from mcp_bridge.audit.records import seal_record
from mcp_bridge.audit.storage.s3.checkpoints import s3_checkpoints
from mcp_bridge.audit.storage.s3.client import WritePolicy, connect
from mcp_bridge.audit.storage.s3.layout import parse_segment_key

from ..audit.checkpoints import VKEY, publish, publish_local
from ..conftest import DAYS, build_log
from ..ops.helpers import audit
from ..ops.test_checkpoint_restore_drill import forge_day
from .conftest import FAST, Clock
from .seaweed import ATTACKER, SeaweedServer, make_bucket
from .test_ops_incident import _copy_trail, body, versions


@pytest.fixture(autouse=True)
def ops_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDIT_OPS_RECORDS_PATH", str(tmp_path / "ops-records"))
    monkeypatch.delenv("AUDIT_VERIFY_KEY", raising=False)
    return tmp_path / "ops-records"


@pytest.fixture
def written(open_trail, clock: Clock, bucket: str) -> list[dict[str, Any]]:
    """Two days of records (several segments each), signed checkpoints at 4 and 8 records."""
    trail = open_trail(clock)
    records = [trail.record_event("e", {"n": n}) for n in range(4)]
    clock.now = clock.now.replace(day=25)
    records += [trail.record_event("e", {"n": n}) for n in range(4, 8)]
    trail.close()
    store = s3_checkpoints(connect(FAST), bucket, "audit", WritePolicy("governance", 1, None))
    publish(store, [r["hash"] for r in records], [4, 8])
    return records


def segments(seaweed: SeaweedServer, bucket: str) -> list[str]:
    """Data segments (not forward markers, not checkpoints), in key order."""
    return [
        key
        for key, version, marker in versions(seaweed, bucket)
        if not marker
        and parse_segment_key("audit", key) is not None
        and "/1970/" not in key
        and body(seaweed, bucket, key, version)
    ]


def checked(result_json: dict[str, Any]) -> int:
    return int(result_json["stats"]["checkpoints"]["checked"])


def test_restore_brings_back_the_original_under_a_newer_version_and_a_delete_marker(
    written, bucket: str, seaweed: SeaweedServer, tmp_path: Path, capsys
) -> None:
    keys = segments(seaweed, bucket)
    overwritten, deleted = keys[1], keys[2]
    original = seaweed.client().get_object(Bucket=bucket, Key=overwritten)["Body"].read()
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=overwritten, Body=b"forged\n")
    seaweed.client(ATTACKER).delete_object(Bucket=bucket, Key=deleted)
    url, forensic = f"s3://{bucket}/audit", str(tmp_path / "forensic")
    assert {f.reason for f in verify_audit_trail(url).failures} == {
        Reason.OBJECT_OVERWRITTEN,
        Reason.OBJECT_DELETED,
    }

    unquarantined = audit(capsys, "restore", url, "--from", "versions", "--apply", "--json")
    assert unquarantined.code == 1
    assert {(a["kind"], a["reason"]) for a in unquarantined.json["actions"]} == {
        ("unhide", "not_quarantined"),
        ("revert", "not_quarantined"),
    }
    assert audit(capsys, "quarantine", url, "--to", forensic).code == 0
    before = versions(seaweed, bucket)
    restore = ["restore", url, "--from", "versions", "--forensic", forensic, "--vkey", VKEY]
    dry = audit(capsys, *restore, "--json")
    assert dry.code == 0, dry.out
    assert sorted((a["kind"], a["target"], a["status"]) for a in dry.json["actions"]) == [
        ("revert", overwritten, "planned"),
        ("unhide", deleted, "planned"),
    ]
    assert versions(seaweed, bucket) == before, "a dry run changes nothing"

    done = audit(capsys, *restore, "--apply", "--json")
    assert done.code == 0, done.out
    assert done.json["verificationAfter"]["ok"] and checked(done.json["verificationAfter"]) == 2
    after = versions(seaweed, bucket)
    assert len([v for v in after if v[0] == overwritten]) == 1, "the newer version is gone"
    assert set(after) < set(before), "only the newer version and the marker were removed"
    current = seaweed.client().get_object(Bucket=bucket, Key=overwritten)
    assert current["Body"].read() == original
    assert verify_audit_trail(url, checkpoints=CheckpointOptions(VKEY)).ok
    forged_copy = Path(forensic, "objects", f"{overwritten}@{next(iter(_gone(before, after)))}")
    assert forged_copy.read_bytes() == b"forged\n", "the removed version's bytes are kept"


def _gone(before: list[tuple[str, str, bool]], after: list[tuple[str, str, bool]]) -> set[str]:
    return {version for key, version, marker in set(before) - set(after) if not marker}


def test_a_newer_version_under_retention_is_removed_only_with_governance_bypass(
    written, bucket: str, seaweed: SeaweedServer, tmp_path: Path, capsys
) -> None:
    key = segments(seaweed, bucket)[0]
    seaweed.client().put_object(
        Bucket=bucket,
        Key=key,
        Body=b"forged\n",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )
    url, forensic = f"s3://{bucket}/audit", str(tmp_path / "forensic")
    assert audit(capsys, "quarantine", url, "--to", forensic).code == 0
    restore = ["restore", url, "--from", "versions", "--forensic", forensic, "--apply", "--json"]
    before = versions(seaweed, bucket)
    refused = audit(capsys, *restore)
    assert refused.code == 1
    [action] = refused.json["actions"]
    assert (action["kind"], action["reason"]) == ("revert", "newer_version_locked")
    assert "GOVERNANCE retention" in action["detail"] and "--bypass-governance" in action["detail"]
    assert versions(seaweed, bucket) == before

    done = audit(capsys, *restore, "--bypass-governance")
    assert done.code == 0, done.out
    assert verify_audit_trail(url).ok


def _forge_segment(data: bytes) -> bytes:
    """The same records re-sealed with other payloads, from the same previous hash: it chains."""
    lines, previous = data.splitlines(), None
    forged = []
    for line in lines:
        record = json.loads(line)
        previous = previous or record["previousHash"]
        previous, sealed = seal_record(
            previous, record["seq"], record["timestamp"], record["eventId"], "forged", "{}"
        )
        forged.append(sealed)
    return b"".join(forged)


def test_a_replica_segment_that_chains_but_differs_from_a_checkpoint_is_refused(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    last = segments(seaweed, bucket)[-1]
    primary, forged = f"primary-{secrets.token_hex(4)}", f"forged-{secrets.token_hex(4)}"
    for name in (primary, forged):
        make_bucket(seaweed, name)
    _copy_trail(seaweed, bucket, primary, skip={last})
    _copy_trail(seaweed, bucket, forged, skip={last})
    genuine = seaweed.client().get_object(Bucket=bucket, Key=last)["Body"].read()
    seaweed.client().put_object(Bucket=forged, Key=last, Body=_forge_segment(genuine))
    url = f"s3://{primary}/audit"
    before = versions(seaweed, primary)

    plain = audit(capsys, "restore", url, "--from", f"s3://{forged}/audit", "--json")
    assert [a["status"] for a in plain.json["actions"]] == ["planned"], "it chains"
    refused = audit(
        capsys, "restore", url, "--from", f"s3://{forged}/audit", "--vkey", VKEY, "--apply"
    )
    assert refused.code == 1 and "[checkpoint_mismatch]" in refused.out
    assert versions(seaweed, primary) == before

    done = audit(capsys, "restore", url, "--from", f"s3://{bucket}/audit", "--vkey", VKEY, "--json")
    assert [a["status"] for a in done.json["actions"]] == ["planned"]
    assert done.code == 0 and checked(done.json["verificationAfter"]) >= 1


def _scratch_bucket(seaweed: SeaweedServer, default: dict[str, Any] | None = None) -> str:
    """An Object Lock (versioned) bucket holding objects that are not the drill's."""
    name = f"scratch-{secrets.token_hex(4)}"
    make_bucket(seaweed, name)
    client = seaweed.client()
    if default is not None:
        client.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": default},
            },
        )
    client.put_object(Bucket=name, Key="keep/me.txt", Body=b"not the drill's")
    client.put_object(Bucket=name, Key="drills/earlier.txt", Body=b"not the drill's either")
    return name


def test_drill_into_a_scratch_prefix_verifies_and_removes_exactly_its_copies(
    written, bucket: str, seaweed: SeaweedServer, capsys, ops_records: Path
) -> None:
    scratch = _scratch_bucket(seaweed)
    scratch_before = versions(seaweed, scratch, prefix="")
    source_before = versions(seaweed, bucket)
    done = audit(
        capsys,
        "drill",
        f"s3://{bucket}/audit",
        "--days",
        "2",
        "--scratch",
        f"s3://{scratch}/drills",
        "--vkey",
        VKEY,
        "--json",
    )
    assert done.code == 0, done.out + done.err
    report = done.json
    assert report["sample"] == ["2025/10/24", "2025/10/25"]
    assert report["scratch"].startswith(f"s3://{scratch}/drills/drill-")
    assert report["verification"]["checkedEvents"] == 8 and report["checkpoints"]["checked"] == 2
    made = report["scratchObjects"]["objects"]
    assert made and all(o["key"].startswith("drills/drill-") for o in made)
    assert report["cleanedUp"] and report["scratchObjects"]["leftBehind"] == []
    assert set(report["timings"]) >= {"restoreSeconds", "verifySeconds", "cleanupSeconds"}
    assert versions(seaweed, scratch, prefix="") == scratch_before, "no scratch object remains"
    assert versions(seaweed, bucket) == source_before, "the backup is only read"
    [record] = ops_records.glob("*-drill-*.json")
    assert json.loads(record.read_text())["result"]["scratchObjects"]["objects"] == made


def test_drill_of_a_backup_directory_into_a_scratch_prefix(
    seaweed: SeaweedServer, tmp_path: Path, capsys
) -> None:
    """Each day file becomes one segment, behind the forward marker the writer would put."""
    log = build_log(tmp_path / "backup", DAYS, 10)
    publish_local(log.root, [10, 20, 30])
    scratch = _scratch_bucket(seaweed)
    before = versions(seaweed, scratch, prefix="")
    drill = ["drill", str(log.root), "--days", "2", "--seed", "5", "--vkey", VKEY, "--json"]
    done = audit(capsys, *drill, "--scratch", f"s3://{scratch}/drills")
    assert done.code == 0, done.out + done.err
    assert done.json["sample"] == ["2025/10/24", "2025/10/25"]
    assert done.json["verification"]["checkedEvents"] == 20
    assert done.json["checkpoints"]["checked"] >= 2 and done.json["cleanedUp"]
    made = [o["key"].split("/", 2)[2] for o in done.json["scratchObjects"]["objects"]]
    assert made == [
        "2025/10/23/00000000000000000000.jsonl",
        "2025/10/23/00000000000000000010.jsonl",
        "2025/10/24/00000000000000000010.jsonl",
        "2025/10/24/00000000000000000020.jsonl",
        "2025/10/25/00000000000000000020.jsonl",
    ], "the anchor day, each sampled day, and a forward marker before each sampled day"
    assert versions(seaweed, scratch, prefix="") == before

    forged = forge_day(log, tmp_path / "forged")
    bad = audit(
        capsys,
        "drill",
        str(forged),
        "--days",
        "3",
        "--vkey",
        VKEY,
        "--json",
        "--scratch",
        f"s3://{scratch}/drills",
    )
    assert bad.code == 1 and bad.json["cleanedUp"]
    assert {f["reason"] for f in bad.json["verification"]["failures"]} == {"checkpoint_mismatch"}
    assert versions(seaweed, scratch, prefix="") == before


def test_a_scratch_copy_that_cannot_be_removed_is_named_and_the_others_are_removed(
    written, bucket: str, seaweed: SeaweedServer, capsys, monkeypatch, ops_records: Path
) -> None:
    """Someone places a legal hold on a scratch copy while the drill verifies (a real S3 call):
    its delete is refused by the server; the drill removes the rest and says what is left."""
    scratch = _scratch_bucket(seaweed)
    real_verify = drill_module.verify_audit_trail
    held: list[str] = []

    def verify_and_hold(location: Any, **options: Any) -> Any:
        client = seaweed.client()
        prefix = str(location).split("/", 3)[3] + "/"  # this drill's own sub-prefix
        listed = client.list_object_versions(Bucket=scratch, Prefix=prefix)["Versions"]
        key, version = listed[0]["Key"], listed[0]["VersionId"]
        client.put_object_legal_hold(
            Bucket=scratch, Key=key, VersionId=version, LegalHold={"Status": "ON"}
        )
        held.append(f"{key}?versionId={version}")
        return real_verify(location, **options)

    monkeypatch.setattr(drill_module, "verify_audit_trail", verify_and_hold)
    url = f"s3://{scratch}/drills"
    done = audit(capsys, "drill", f"s3://{bucket}/audit", "--scratch", url, "--json")
    assert done.code == 1 and not done.json["cleanedUp"]
    [left] = done.json["scratchObjects"]["leftBehind"]
    assert left.startswith(f"{held[0]}: ") and "AccessDenied" in left
    remaining = [v for v in versions(seaweed, scratch, prefix="drills/drill-")]
    assert [f"{k}?versionId={v}" for k, v, _ in remaining] == held, "only the held copy is left"
    [record] = ops_records.glob("*-drill-*.json")
    assert json.loads(record.read_text())["result"]["scratchObjects"]["leftBehind"] == [left]
    text = audit(capsys, "drill", f"s3://{bucket}/audit", "--scratch", url)
    assert text.code == 1 and f"left behind: {held[1]}: " in text.out
    assert "scratch copies removed: NO" in text.out


def test_a_drill_stopped_by_storage_trouble_is_recorded_and_exits_3(
    written, bucket: str, capsys, ops_records: Path
) -> None:
    done = audit(capsys, "drill", f"s3://{bucket}/audit", "--scratch", "s3://no-such-bucket/d")
    assert done.code == 3 and "Traceback" not in done.err
    assert "drill stopped by storage trouble" in done.out and "no-such-bucket" in done.out
    [record] = ops_records.glob("*-drill-*.json")
    assert "no-such-bucket" in json.loads(record.read_text())["result"]["error"]


def test_drill_into_an_unversioned_scratch_bucket_leaves_nothing(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    plain = f"plain-{secrets.token_hex(4)}"
    make_bucket(seaweed, plain, object_lock=False)
    seaweed.client().put_object(Bucket=plain, Key="drills/keep.txt", Body=b"not the drill's")
    before = versions(seaweed, plain, prefix="")
    url = f"s3://{plain}/drills"
    done = audit(capsys, "drill", f"s3://{bucket}/audit", "--scratch", url, "--json")
    assert done.code == 0 and done.json["cleanedUp"], done.out + done.err
    assert versions(seaweed, plain, prefix="") == before


def test_drill_refuses_a_scratch_bucket_whose_default_retention_would_lock_its_copies(
    written, bucket: str, seaweed: SeaweedServer, capsys
) -> None:
    source = f"s3://{bucket}/audit"
    compliance = _scratch_bucket(seaweed, {"Mode": "COMPLIANCE", "Days": 1})
    before = versions(seaweed, compliance, prefix="")
    for extra in ([], ["--bypass-governance"]):
        refused = audit(capsys, "drill", source, "--scratch", f"s3://{compliance}/d", *extra)
        assert refused.code == 2 and "default COMPLIANCE retention" in refused.err
    assert versions(seaweed, compliance, prefix="") == before, "nothing written"

    governance = _scratch_bucket(seaweed, {"Mode": "GOVERNANCE", "Days": 1})
    before = versions(seaweed, governance, prefix="")
    url = f"s3://{governance}/d"
    refused = audit(capsys, "drill", source, "--scratch", url)
    assert refused.code == 2 and "--bypass-governance" in refused.err
    done = audit(capsys, "drill", source, "--scratch", url, "--bypass-governance", "--json")
    assert done.code == 0 and done.json["cleanedUp"], done.out + done.err
    assert versions(seaweed, governance, prefix="") == before

    inside = audit(capsys, "drill", source, "--scratch", f"s3://{bucket}/audit/scratch")
    assert inside.code == 2 and "overlaps the backup" in inside.err


def test_incident_report_of_an_s3_incident_end_to_end(
    written, bucket: str, seaweed: SeaweedServer, capsys, ops_records: Path
) -> None:
    keys = segments(seaweed, bucket)
    seaweed.client(ATTACKER).put_object(Bucket=bucket, Key=keys[1], Body=b"forged\n")
    seaweed.client(ATTACKER).delete_object(Bucket=bucket, Key=keys[2])
    forensic_bucket = f"forensic-{secrets.token_hex(4)}"
    make_bucket(seaweed, forensic_bucket, object_lock=False)
    url, forensic, case = f"s3://{bucket}/audit", f"s3://{forensic_bucket}/INC-9", "INC-9"

    quarantined = audit(capsys, "quarantine", url, "--to", forensic, "--incident", case, "--json")
    assert quarantined.code == 0, quarantined.err
    assert audit(capsys, "locate", url, "--incident", case).code == 1
    restore = ["restore", url, "--from", "versions", "--forensic", forensic, "--apply"]
    assert audit(capsys, *restore, "--vkey", VKEY, "--incident", case).code == 0
    assert audit(capsys, "verify", url, "--vkey", VKEY).code == 0

    done = audit(capsys, "incident", "report", case, "--verify", url, "--json")
    assert done.code == 0, done.err
    folder = Path(done.json["folder"])
    assert folder.parent == ops_records / "incidents"
    sums = dict(
        reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines()
    )
    for name, digest in sums.items():
        import hashlib

        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    names = set(sums)
    manifest_name = Path(quarantined.json["manifest"].split("/", 3)[3]).name
    assert any(n.endswith(manifest_name) for n in names), "the manifest fetched from S3"
    assert any("-quarantine-" in n for n in names) and any("-locate-" in n for n in names)
    assert any("-restore-" in n and n.endswith(".md") for n in names)
    assert json.loads((folder / "verification.json").read_text())["ok"]
    assert len(done.json["records"]) == 3
