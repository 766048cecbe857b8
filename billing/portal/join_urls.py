"""The online join's pages, mounted at ``/join/`` (namespace ``join``)."""

from django.urls import path

from . import join

app_name = "join"

urlpatterns = [
    path("", join.plans, name="plans"),
    path("plans/<slug:code>/", join.details, name="details"),
    path("agreement/", join.agreement, name="agreement"),
    path("pay/", join.pay, name="pay"),
    path("pay/status/", join.pay_status, name="pay_status"),
    path("welcome/", join.welcome, name="welcome"),
]
