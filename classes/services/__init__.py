"""Classes' services, in layers (each module imports only those above it in this list):

- ``rules``: the reason codes' checks: window, membership status, entitlement, overlap;
- ``paying``: what pays for a booking, and giving a credit back;
- ``outbox``: messages written with the booking and sent after commit;
- ``fees``: late-cancel and no-show fees: pending, waived, posted to the account;
- ``booking``: book, waitlist, cancel, promote, offers, gym cancellations;
- ``attendance``: the roster, walk-ins, attendance from a gate grant, no-shows;
- ``timetable``: sessions generated from weekly schedules;
- ``reminders``: reminders before class, in quiet-hours-aware batches.
"""
