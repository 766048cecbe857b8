"""Classes' domain errors.  Each refusal has a stable ``reason`` and a message in the
reader's language (``DomainError.reason_messages``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, InvalidInput


class BookingRefused(DomainError):
    code = "booking_refused"
    status = 409
    default_message: ClassVar[Any] = _("This booking cannot be made.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "session_cancelled": _("This class has been cancelled."),
        "session_over": _("This class has already started."),
        "not_open_yet": _("Booking for this class opens on %(opens)s."),
        "closed": _("Booking for this class closed at %(closes)s."),
        "no_membership": _("You need a membership, a class pack or a drop-in to book."),
        "membership_frozen": _("Your membership is frozen on that day."),
        "membership_suspended": _("Your membership is suspended."),
        "membership_inactive": _("Your membership does not let you book classes."),
        "bookings_blocked": _("Class bookings are on hold until your overdue balance is paid."),
        "strikes_suspended": _("Too many missed classes: you can book again from %(until)s."),
        "not_entitled": _("Your plan does not include this class."),
        "no_credit": _("You have no class credits left for this class."),
        "already_booked": _("You are already booked or on the waitlist for this class."),
        "overlapping": _("You are already booked into a class at that time."),
        "full": _("This class and its waitlist are full."),
        "spot_taken": _("That spot is taken; choose another."),
        "no_such_spot": _("This room has no spot %(spot)s."),
        "reason_required": _("Say why the booking window is overridden."),
    }


class BookingNotChanged(DomainError):
    code = "booking_not_changed"
    status = 409
    default_message: ClassVar[Any] = _("This booking cannot be changed.")
    reason_messages: ClassVar[dict[str, Any]] = {
        "not_booked": _("This booking is not a booked place."),
        "not_waitlisted": _("This booking is not on the waitlist."),
        "no_offer": _("No place is offered to you for this class."),
        "offer_expired": _("The place offered to you has gone to the next person."),
        "already_attended": _("This member is already marked attended."),
        "session_full": _("The class is full."),
        "link_expired": _("This cancel link has expired; the class is past its cutoff."),
        "fee_decided": _("This fee is already waived or posted."),
        "reason_required": _("Say why."),
    }


CARD_NUMBER_IN_TEXT = _("Never write a card number here.")


class CardNumberInText(InvalidInput):
    """A free-text field (a reason for a waiver or an override) held a card number: refused
    before anything is stored, naming the field, never echoing the value."""

    code = "card_number_refused"
    default_message: ClassVar[Any] = _("Card numbers are never accepted in text.")
