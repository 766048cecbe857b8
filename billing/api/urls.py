from django.urls import path
from rest_framework.routers import SimpleRouter

from .promptpay import PromptPayRequestViewSet
from .views import (
    GatewayWebhookView,
    InvoiceViewSet,
    MembershipViewSet,
    PaymentMethodViewSet,
    PaymentViewSet,
    PlanViewSet,
)

router = SimpleRouter(trailing_slash=True)
router.register("plans", PlanViewSet, basename="billing-plan")
router.register("memberships", MembershipViewSet, basename="billing-membership")
router.register("invoices", InvoiceViewSet, basename="billing-invoice")
router.register("payments", PaymentViewSet, basename="billing-payment")
router.register("payment-methods", PaymentMethodViewSet, basename="billing-payment-method")
router.register("promptpay-requests", PromptPayRequestViewSet, basename="billing-promptpay-request")

urlpatterns = [
    path(
        "webhooks/<slug:gateway>/",
        GatewayWebhookView.as_view(),
        name="billing-webhook",
    ),
    *router.urls,
]
