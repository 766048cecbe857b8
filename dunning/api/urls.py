from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .metrics import DunningMetricsView
from .views import DunningCaseViewSet

router = SimpleRouter(trailing_slash=True)
router.register("cases", DunningCaseViewSet, basename="dunning-case")

urlpatterns = [
    # Email tracking webhooks (delivered, bounced, opened, clicked), one URL per provider:
    # /api/v1/dunning/webhooks/email/<provider>/tracking/ (django-anymail verifies them).
    path("webhooks/email/", include("anymail.urls")),
    path("metrics/", DunningMetricsView.as_view(), name="dunning-metrics"),
    *router.urls,
]
