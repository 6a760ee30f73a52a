"""What the verifier requires of every stored object: Object Lock and SSE-KMS checks.

Pure: it judges the headers GetObject returned (mode, retain-until, KMS key id), so the
verifier needs no HEAD or GetObjectRetention request per object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ...errors import AuditUsageError
from ...results import Failure, Reason
from .client import StoredObject


@dataclass(frozen=True, slots=True)
class ObjectPolicy:
    """Expected lock mode, minimum retention and KMS key (each optional).

    With neither mode nor days given, an object must still carry *some* Object Lock retention
    unless ``require_lock`` is off (``--no-object-lock``, for stores without Object Lock).
    """

    lock_mode: str | None = None
    lock_days: int | None = None
    kms_key_id: str | None = None
    kms_required_since: date | None = None
    require_lock: bool = True

    @classmethod
    def create(
        cls,
        lock_mode: str | None,
        lock_days: int | None,
        kms_key_id: str | None,
        kms_required_since: date | None,
        *,
        require_lock: bool = True,
    ) -> ObjectPolicy:
        mode = lock_mode.strip().upper() if lock_mode else None
        if mode not in (None, "GOVERNANCE", "COMPLIANCE"):
            raise AuditUsageError(
                f"--object-lock-mode {lock_mode!r} is not a lock mode",
                hint="use governance or compliance",
            )
        if lock_days is not None and lock_days < 1:
            raise AuditUsageError(f"--object-lock-days {lock_days} is invalid: must be ≥ 1")
        return cls(mode, lock_days, kms_key_id or None, kms_required_since, require_lock)

    def check(self, obj: StoredObject, day: date, newest: datetime | None) -> list[Failure]:
        """Failures of one object whose newest event is ``newest`` (None: nothing to bound)."""
        related = (version_name(obj),)
        failures = self._check_lock(obj, newest, related)
        if self._kms_applies(day) and not kms_matches(obj.kms_key_id, self.kms_key_id):
            found = f"{obj.kms_key_id or 'none'} ({obj.encryption or 'unencrypted'})"
            failures.append(
                Failure(
                    Reason.KMS_KEY,
                    f"SSE-KMS key {found} found; {self.kms_key_id} expected",
                    obj.key,
                    related=related,
                )
            )
        return failures

    def _check_lock(
        self, obj: StoredObject, newest: datetime | None, related: tuple[str, ...]
    ) -> list[Failure]:
        if self.lock_mode is None and self.lock_days is None and not self.require_lock:
            return []
        if not obj.lock_mode or obj.retain_until is None:
            expected = self.lock_mode or "a lock (--no-object-lock turns this check off)"
            return [
                Failure(
                    Reason.OBJECT_LOCK_MISSING,
                    f"no Object Lock retention found; {expected} expected",
                    obj.key,
                    related=related,
                )
            ]
        if self.lock_mode and obj.lock_mode.upper() != self.lock_mode:
            return [
                Failure(
                    Reason.OBJECT_LOCK_MODE,
                    f"lock mode {obj.lock_mode} found; {self.lock_mode} expected",
                    obj.key,
                    related=related,
                )
            ]
        if self.lock_days and newest is not None:
            required = newest + timedelta(days=self.lock_days)
            if obj.retain_until.astimezone(UTC) < required:
                return [
                    Failure(
                        Reason.OBJECT_LOCK_RETENTION,
                        f"retain-until {_iso(obj.retain_until)} found; at least {_iso(required)} "
                        f"expected (newest event {_iso(newest)} + {self.lock_days} days)",
                        obj.key,
                        related=related,
                    )
                ]
        return []

    def _kms_applies(self, day: date) -> bool:
        if self.kms_key_id is None:
            return False
        return self.kms_required_since is None or day >= self.kms_required_since


def kms_matches(found: str | None, expected: str | None) -> bool:
    """Same key, whether either side is written as a key id or as its ARN."""
    if found is None or expected is None:
        return found == expected
    return (
        found == expected
        or found.endswith(f":key/{expected}")
        or expected.endswith(f":key/{found}")
    )


def version_name(obj: StoredObject) -> str:
    return f"{obj.key}?versionId={obj.version_id}" if obj.version_id else obj.key


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
