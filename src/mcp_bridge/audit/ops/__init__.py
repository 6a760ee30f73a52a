"""Incident response and the operations checklist as commands (runbook §4 and §5).

One module per command (``quarantine``, ``locate``, ``restore``, ``incident_report``, ``replay``,
``retention``, ``kms``, ``access``, ``drill``), each with ``main(argv)``; shared helpers for the
command line (``cli``), ops records (``records``), quarantine manifests (``manifest``), the
trail being operated on (``trail``) and chain checks of candidate data (``overlay``). Every S3
call lives in ``storage/s3/ops.py``.
"""
