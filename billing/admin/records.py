"""Evidence: credit notes, the ledger, gateway webhook events and notifications sent.

All read-only: these records are written by the services and only looked at here.
"""

from __future__ import annotations

from django.contrib import admin

from ..models import CreditNote, GatewayWebhookEvent, LedgerEntry, Notification
from .base import AmountColumn, InvoiceMemberColumn, MemberSearchMixin, ReadOnlyAdmin


@admin.register(CreditNote)
class CreditNoteAdmin(InvoiceMemberColumn, AmountColumn, MemberSearchMixin, ReadOnlyAdmin):
    list_display = ("number", "invoice", "member", "amount_display", "reason", "issued_at")
    search_fields = ("number", "invoice__number")
    member_lookup = "invoice__member"
    extra_search_lookups = ("number__iexact", "invoice__number__iexact")
    list_select_related = ("invoice__member",)
    date_hierarchy = "issued_at"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(AmountColumn, MemberSearchMixin, ReadOnlyAdmin):
    list_display = ("member", "kind", "amount_display", "description", "invoice", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("member__first_name", "member__last_name", "reference")
    extra_search_lookups = ("reference",)
    list_select_related = ("member", "invoice")
    show_full_result_count = False


@admin.register(GatewayWebhookEvent)
class GatewayWebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "gateway", "type", "raw_type", "outcome", "received_at")
    list_filter = ("gateway", "type", "outcome")
    search_fields = ("event_id",)


@admin.register(Notification)
class NotificationAdmin(MemberSearchMixin, ReadOnlyAdmin):
    list_display = ("member", "kind", "subject", "sent_at", "error", "created_at")
    list_filter = ("kind",)
    search_fields = ("member__first_name", "member__last_name", "key")
    list_select_related = ("member",)
    show_full_result_count = False
