"""Billing writes.  Import from the submodules: ``billing.services.memberships`` etc."""
