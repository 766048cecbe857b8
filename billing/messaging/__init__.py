"""Messages to members, for every app (billing, dunning, classes, the point of sale).

- :mod:`billing.messaging.sms`: the SMS sender (one configured backend, ``SMS_BACKEND``);
- :mod:`billing.messaging.outbox`: each message sent at most once and none lost
  silently (claim and commit, send outside any transaction, record the outcome; an
  interrupted send settled by asking the provider, never resent blindly).

It sits in billing, the lowest app that sends, so every app above can use it.
"""
