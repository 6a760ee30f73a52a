"""The documented Parquet schema and OCSF profile are the ones the code writes."""

from __future__ import annotations

import re
from pathlib import Path

from mcp_bridge.audit.export.columns import COLUMNS
from mcp_bridge.audit.export.formats.parquet import arrow_schema
from mcp_bridge.audit.export.ocsf import OCSF_VERSION

from ..conftest import REPO, Log
from ..test_docs_commands import fresh_shell

DOC = REPO / "docs" / "mcp-bridge" / "export.md"


def test_the_schema_table_lists_every_column_with_its_type() -> None:
    section = DOC.read_text().split("## Parquet / CSV schema")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    schema = arrow_schema()
    expected = [
        (c.name, str(schema.field(c.name).type).replace("list<item: string>", "list&lt;string&gt;"))
        for c in COLUMNS
    ]
    assert [(name, kind.strip()) for name, kind in rows] == expected


def test_the_ocsf_version_and_sinks_are_documented() -> None:
    text = DOC.read_text()
    assert f"`metadata.version` is `{OCSF_VERSION}`" in text
    assert "AUDIT_EXPORT_HEC_TOKEN" in text and "AUDIT_EXPORT_WEBHOOK_TOKEN" in text
    assert "docs/mcp-bridge/export.md" in (REPO / "README.md").read_text()


def test_the_duckdb_example_works_in_a_fresh_shell(log3: Log, tmp_path: Path) -> None:
    """The page's DuckDB commands, pasted as printed, in a checkout holding var/audit."""
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "var").mkdir()
    log3.root.rename(tmp_path / "var" / "audit")
    section = DOC.read_text().split("## Query it with DuckDB")[1]
    script = section.split("```\n")[1].replace("'mcp.tools.call'", "'test.event'")
    done = fresh_shell(script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 30 rows to lake" in done.stderr
    assert done.stdout.count("2025-10-2") == 3 and "│    10 │" in done.stdout
