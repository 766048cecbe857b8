from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClassesConfig(AppConfig):
    name = "classes"
    verbose_name = _("Classes")

    def ready(self) -> None:
        # What it holds about a member: exported and erased through members.privacy.
        from .privacy import register_classes

        register_classes()
        from access_control import hooks as gate_hooks
        from members import hooks

        from . import today
        from .portal import home as portal_home
        from .services.attendance import attendance_from_grant

        # A grant at a device in a class's room or zone marks the booked member attended.
        gate_hooks.register(gate_hooks.access_granted, attendance_from_grant)
        # "Today at the gym": the day's classes and how full they are.
        hooks.register(hooks.today_sections, today.today_sections)
        # The member portal: the next classes on the home page, the timetable in the menu.
        hooks.register(hooks.portal_home_cards, portal_home.bookings_card)
        hooks.register(hooks.portal_menu, portal_home.classes_menu)
