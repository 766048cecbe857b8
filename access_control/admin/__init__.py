"""The front desk's access control screens.

- ``events``: the access log, the live check-in feed, manual check-in and overrides;
- ``credentials``: cards, barcodes and QR passes; issuing and lost-card replacement;
- ``devices``: readers and their keys (shown once), rotation and revocation;
- ``places``: locations, zones and doors;
- ``search``: card numbers in any form, for these screens and the member list;
- ``feed`` and ``forms``: the feed's rows and the pages' inputs;
- ``base``: refusals in the desk's words, and fields under the admin's labels.

Every change of state calls one ``access_control.services`` function; what a service
refuses comes back as a message on the page.  Importing this package registers the
screens with the admin site.
"""

from __future__ import annotations

from .credentials import CredentialAdmin
from .devices import DeviceAdmin
from .events import AccessEventAdmin
from .places import LocationAdmin, ZoneAdmin
from .search import card_search_terms, credential_readings

__all__ = [
    "AccessEventAdmin",
    "CredentialAdmin",
    "DeviceAdmin",
    "LocationAdmin",
    "ZoneAdmin",
    "card_search_terms",
    "credential_readings",
]
