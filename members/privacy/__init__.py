"""Members' personal data under the PDPA and the GDPR: export, erasure, retention.

The registry (``registry``) is how every app says, in its own ``privacy.py``, what it
holds about a member: which rows (``rows``), which fields never leave (``secret``), how
they are erased (``erase``) or why they are kept (``retained``), and what the retention
task anonymises once the legal period is over (``after_retention``).  Apps register from
``AppConfig.ready``, so members never imports them.  ``tests/members/test_privacy_walk.py``
walks every model that points at a member and fails when one is not registered.

- ``export``: the ZIP of JSON and CSV files, one pair per model.
- ``erasure``: requests, approval, anonymisation.
- ``retention``: the scheduled anonymisation of what was kept for the law.
See ``docs/privacy.md``.
"""
