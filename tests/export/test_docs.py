"""The documented Parquet schema and OCSF profile are the ones the code writes."""

from __future__ import annotations

import re

from mcp_bridge.audit.export.columns import COLUMNS
from mcp_bridge.audit.export.formats.parquet import arrow_schema
from mcp_bridge.audit.export.ocsf import OCSF_VERSION

from ..conftest import REPO

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
