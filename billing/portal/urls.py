"""Billing's portal pages, mounted at ``/portal/billing/`` (namespace ``billing_portal``)."""

from django.urls import path

from . import card, invoices, membership, pay, promptpay

app_name = "billing_portal"

urlpatterns = [
    path("invoices/", invoices.invoice_list, name="invoices"),
    path("invoices/<int:invoice_id>/", invoices.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/tax-invoice.pdf", invoices.invoice_pdf, name="invoice_pdf"),
    path("pay/", pay.pay, name="pay"),
    path("pay/card-setup/", pay.card_setup, name="card_setup"),
    path("pay/promptpay/<int:request_id>/", promptpay.promptpay_page, name="promptpay"),
    path(
        "pay/promptpay/<int:request_id>/status/",
        promptpay.promptpay_status,
        name="promptpay_status",
    ),
    path("card/", card.card, name="card"),
    path("membership/", membership.membership_page, name="membership"),
    path("membership/<int:membership_id>/freeze/", membership.freeze, name="freeze"),
    path("membership/<int:membership_id>/unfreeze/", membership.unfreeze, name="unfreeze"),
    path("membership/<int:membership_id>/cancel/", membership.cancel, name="cancel"),
    path("membership/<int:membership_id>/change-plan/", membership.change_plan, name="change_plan"),
]
