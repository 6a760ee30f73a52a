"""The local JSONL store: writer, file helpers, reader and parallel verifier."""
