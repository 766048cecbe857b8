"""Billing in the member portal: home-page cards (``home``); the invoices, pay, card and
membership pages are billing's own portal pages (see ``docs/portal.md``)."""
