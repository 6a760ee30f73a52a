"""One export: read the selection through the verifier into an output, publish or refuse.

Strict by default: if anything in the range fails verification the staged output is removed
and nothing is published (exit 1). With ``allow_unverified`` the output is published with the
failing rows flagged (``verified = false``) and the report still says what failed (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import ProgressCallback, RecordSource
from ..results import VerificationResult
from .formats import writer_factory
from .output import open_output
from .reader import Selection, read_rows
from .rows import Covering, ExportRow


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    result: VerificationResult
    rows: int
    unverified_rows: int
    published: str | None

    @property
    def ok(self) -> bool:
        return self.result.ok

    def summary(self) -> str:
        if self.published is None:
            return (
                f"export refused: the range failed verification; nothing was written "
                f"({self.rows:,} rows read). Re-run with --allow-unverified to export them "
                "with the failing rows flagged."
            )
        flagged = f", {self.unverified_rows:,} flagged unverified" if self.unverified_rows else ""
        return f"exported {self.rows:,} rows{flagged} to {self.published}"


def export(
    source: RecordSource,
    selection: Selection,
    *,
    format_name: str,
    target: str | None,
    allow_unverified: bool = False,
    max_failures: int = 100,
    progress: ProgressCallback | None = None,
    covering: Covering | None = None,
) -> ExportOutcome:
    """Export ``selection`` of ``source`` as ``format_name`` to ``target`` (None = stdout)."""
    selection.check()
    factory, extension = writer_factory(format_name)
    output = open_output(factory, extension, target)
    counts = [0, 0]

    def emit(row: ExportRow) -> None:
        counts[0] += 1
        counts[1] += not row.verified
        output.write(row)

    try:
        result = read_rows(
            source,
            selection,
            emit,
            max_failures=max_failures,
            progress=progress,
            covering=covering,
        )
    except BaseException:
        output.discard()
        raise
    if not result.ok and not allow_unverified:
        output.discard()
        return ExportOutcome(result, counts[0], counts[1], None)
    return ExportOutcome(result, counts[0], counts[1], output.publish())
