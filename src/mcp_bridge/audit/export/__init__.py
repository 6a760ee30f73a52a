"""``python -m mcp_bridge.audit export``: the trail in the formats people use, verified as read.

Modules, one job each: :mod:`.rows` (one verified record as an export row), :mod:`.columns`
(the flattened columns shared by CSV and Parquet), :mod:`.reader` (rows out of the verification
engine), :mod:`.formats` (JSON lines, CSV, Parquet, OCSF writers), :mod:`.ocsf` (the OCSF
mapping), :mod:`.output` (staging and publishing files), :mod:`.sinks` / :mod:`.cursor` /
:mod:`.follow` (streaming to a SIEM) and :mod:`.cli`. Documented in docs/mcp-bridge/export.md.
"""
