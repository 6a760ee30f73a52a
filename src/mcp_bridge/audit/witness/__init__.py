"""Witnesses (C2SP tlog-witness, tlog-cosignature) and trusted timestamps (RFC 3161).

A witness cosigns a checkpoint only if it is consistent with every checkpoint of the same log it
cosigned before, so a log operator holding the signing key cannot show two auditors two
histories without a witness noticing. Pure codecs and decisions live in :mod:`.cosignature`
and :mod:`.protocol`; the HTTP server, its durable state, the writer's submitter and the
timestamp client are the I/O around them.
"""
