"""The hosted page members reach from a dunning message's link (mounted at ``/pay/``)."""

from django.urls import path

from . import views

app_name = "dunning"

urlpatterns = [
    path("<str:token>/", views.pay_page, name="pay"),
    path("<str:token>/card-setup/", views.card_setup, name="card_setup"),
]
