from django.urls import path

from .views import AccessCheckView, AllowlistView, EventsUploadView, OccupancyView

urlpatterns = [
    path("check", AccessCheckView.as_view(), name="access-check"),
    path("allowlist", AllowlistView.as_view(), name="access-allowlist"),
    path("events", EventsUploadView.as_view(), name="access-events"),
    path("occupancy", OccupancyView.as_view(), name="access-occupancy"),
]
