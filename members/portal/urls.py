"""The portal shell's pages, mounted at ``/portal/`` (namespace ``portal``)."""

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("language/", views.language, name="language"),
    path("family/<int:member_id>/", views.dependant, name="dependant"),
    path("profile/", views.profile, name="profile"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/download/<str:token>/", views.privacy_download, name="privacy_download"),
    path("invite/<str:uid>/<str:token>/", views.invite, name="invite"),
]
