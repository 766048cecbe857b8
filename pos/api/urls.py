from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    ProductViewSet,
    SaleViewSet,
    StatementView,
    StockChangeView,
    StockView,
    TillViewSet,
)

router = SimpleRouter(trailing_slash=True)
router.register("products", ProductViewSet, basename="pos-product")
router.register("tills", TillViewSet, basename="pos-till")
router.register("sales", SaleViewSet, basename="pos-sale")

urlpatterns = [
    path("stock/", StockView.as_view(), name="pos-stock"),
    path("stock/receive/", StockChangeView.as_view(kind="receive"), name="pos-stock-receive"),
    path("stock/adjust/", StockChangeView.as_view(kind="adjust"), name="pos-stock-adjust"),
    path("stock/count/", StockChangeView.as_view(kind="count"), name="pos-stock-count"),
    path("members/<int:member_id>/statement/", StatementView.as_view(), name="pos-statement"),
    *router.urls,
]
