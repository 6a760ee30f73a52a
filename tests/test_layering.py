"""The layering the tree promises, asserted on the source (imports are read, nothing runs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "mcp_bridge"
CORE = [
    "records",
    "sequencing",
    "chain",
    "engine",
    "results",
    "errors",
    "layout",
    "committer",
    "merkle",
    "tiles",
    "note",
    "checkpoint",
    "witness/cosignature",
    "witness/protocol",
    "witness/endpoints",
    "witness/timestamp",
    "witness/check",
    "checkpoint_store",
    "tree_writer",
    "checkpoint_verify",
    "tree_stream",
    "tile_source",
]
FILE_SYSTEM = {"os", "pathlib", "io", "shutil", "fcntl", "tempfile", "glob"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("name", CORE)
def test_audit_core_touches_neither_file_system_nor_boto3(name: str) -> None:
    path = SRC / "audit" / f"{name}.py"
    tops = _top(imports_of(path))
    assert not tops & (FILE_SYSTEM | {"boto3", "botocore"}), tops
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open"
    ]
    assert not calls, f"{name} calls open()"


def test_boto3_lives_only_in_the_s3_driver() -> None:
    for path in SRC.rglob("*.py"):
        if "boto3" in _top(imports_of(path)) or "botocore" in _top(imports_of(path)):
            assert path.parent.name == "s3" and path.parent.parent.name == "storage", path


def test_audit_never_imports_the_bridge() -> None:
    for path in (SRC / "audit").rglob("*.py"):
        assert not any(name.startswith("mcp_bridge.bridge") for name in imports_of(path)), path
        assert "mcp" not in _top(imports_of(path)), path


def test_the_mcp_sdk_is_used_only_by_the_bridge() -> None:
    for path in SRC.rglob("*.py"):
        if "mcp" in _top(imports_of(path)):
            assert "bridge" in path.relative_to(SRC).parts, path


def test_public_audit_api_is_explicit() -> None:
    import mcp_bridge.audit as audit

    for name in (
        "LocalAuditTrail",
        "open_audit_trail",
        "compute_event_hash",
        "verify_audit_trail",
        "VerificationResult",
    ):
        assert name in audit.__all__
