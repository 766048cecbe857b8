"""Members' signed links (mounted at ``/classes/``)."""

from django.urls import path

from . import views

app_name = "classes"

urlpatterns = [
    path("cancel/<str:token>/", views.cancel_link, name="cancel-link"),
]
