"""Writes of access control: the only place that changes its state.

The admin and the API call these; see each module for the contracts.
"""

from .checks import CheckResult, access_check, manual_check_in, override_denial
from .credentials import credential_issue, credential_replace, credential_revoke, qr_pass_current
from .devices import (
    DeviceIdentity,
    device_authenticate,
    device_create,
    device_revoke,
    device_rotate_key,
)
from .offline import OfflineEvent, UploadResult, access_events_upload

__all__ = [
    "CheckResult",
    "DeviceIdentity",
    "OfflineEvent",
    "UploadResult",
    "access_check",
    "access_events_upload",
    "credential_issue",
    "credential_replace",
    "credential_revoke",
    "device_authenticate",
    "device_create",
    "device_revoke",
    "device_rotate_key",
    "manual_check_in",
    "override_denial",
    "qr_pass_current",
]
