"""The hosted page members reach from a dunning message's link (mounted at ``/pay/``)."""

from django.urls import path

from . import promptpay_views, views

app_name = "dunning"

urlpatterns = [
    path("<str:token>/", views.pay_page, name="pay"),
    path("<str:token>/card-setup/", views.card_setup, name="card_setup"),
    path("<str:token>/receipt/<str:invoice_id>/", views.receipt, name="receipt"),
    path(
        "<str:token>/promptpay/<str:request_id>/",
        promptpay_views.promptpay_page,
        name="promptpay",
    ),
    path(
        "<str:token>/promptpay/<str:request_id>/status/",
        promptpay_views.promptpay_status,
        name="promptpay_status",
    ),
    path(
        "<str:token>/promptpay/<str:request_id>/receipt/",
        promptpay_views.promptpay_receipt,
        name="promptpay_receipt",
    ),
]
