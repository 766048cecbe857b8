"""The sandbox provider answers "did you get it?" consistently, whenever the sender died."""

from __future__ import annotations

from django.core.cache import cache

from config import outbox


def test_a_sender_killed_between_counting_and_storing_the_details_is_known_to_have_sent() -> None:
    outbox.reset()
    reference = "dunning-killed-between-writes"
    # What ``record`` had done when the process died: the receipt is counted, the
    # message's details were never stored.
    cache.add(f"{outbox._prefix()}count:{reference}", 0, 60)
    cache.incr(f"{outbox._prefix()}count:{reference}")

    assert outbox.received(reference) == 1
    assert outbox.lookup(reference) is not None


def test_lookup_and_received_agree_for_a_whole_send_and_for_none() -> None:
    outbox.reset()
    message_id = outbox.record("dunning-whole", "sms", "+66812345678", "hello")

    assert outbox.lookup("dunning-whole") == message_id
    assert outbox.received("dunning-whole") == 1
    assert outbox.lookup("dunning-never") is None
    assert outbox.received("dunning-never") == 0
