from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from members.lead_pages import lead_unsubscribe

from .api.views import PingView, redoc_bundle
from .health import healthz

handler404 = "config.api.views.not_found"

# The member portal (docs/portal.md): the shell's pages, each app's portal pages, and
# allauth's sign-in pages, all under /portal/.
portal = [
    path("account/", include("allauth.urls")),
    path("", include("members.portal.urls")),
    path("billing/", include("billing.portal.urls")),
    path("classes/", include("classes.portal.urls")),
    path("pass/", include("access_control.portal.urls")),
]

api_v1 = [
    path("", include("members.api.urls")),
    path("billing/", include("billing.api.urls")),
    path("access/", include("access_control.api.urls")),
    path("classes/", include("classes.api.urls")),
    path("dunning/", include("dunning.api.urls")),
    path("pos/", include("pos.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Locations and zones moved from access control to billing (billing.places): the
    # desk's old bookmarks still open them.
    re_path(
        r"^admin/access_control/(?P<model>location|zone)/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/billing/%(model)s/%(rest)s", permanent=True, query_string=True
        ),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/ping", PingView.as_view(), name="api-ping"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/bundles/redoc.standalone.js", redoc_bundle, name="api-redoc-bundle"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include(portal)),
    path("accounts/login/", RedirectView.as_view(pattern_name="account_login", query_string=True)),
    path("", RedirectView.as_view(pattern_name="portal:home"), name="root"),
    path("pay/", include("dunning.urls")),
    path("classes/", include("classes.urls")),
    path("join/stop-emails/<str:token>/", lead_unsubscribe, name="lead-unsubscribe"),
    path("join/", include("billing.portal.join_urls")),
    # The sandbox gateway's banking app (404 with any other gateway): demo and tests.
    path("sandbox-bank/", include("billing.sandbox_bank")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
