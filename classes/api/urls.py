from rest_framework.routers import SimpleRouter

from .views import BookingViewSet, SessionViewSet

router = SimpleRouter(trailing_slash=True)
router.register("sessions", SessionViewSet, basename="classes-session")
router.register("bookings", BookingViewSet, basename="classes-booking")

urlpatterns = router.urls
