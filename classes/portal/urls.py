"""Classes' portal pages, mounted at ``/portal/classes/`` (namespace ``classes_portal``)."""

from django.urls import path

from . import views

app_name = "classes_portal"

urlpatterns = [
    path("", views.timetable, name="timetable"),
    path("bookings/", views.bookings, name="bookings"),
    path("sessions/<int:session_id>/book/", views.book, name="book"),
    path("bookings/<int:booking_id>/cancel/", views.cancel, name="cancel"),
    path("bookings/<int:booking_id>/accept/", views.accept, name="accept"),
]
