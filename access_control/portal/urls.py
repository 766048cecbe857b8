"""The QR pass, mounted at ``/portal/pass/`` (namespace ``access_portal``)."""

from django.urls import path

from . import views

app_name = "access_portal"

urlpatterns = [
    path("", views.pass_page, name="pass"),
    path("code/", views.pass_code, name="pass_code"),
    path("family/<int:member_id>/", views.pass_page, name="dependant_pass"),
    path("family/<int:member_id>/code/", views.pass_code, name="dependant_pass_code"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
]
