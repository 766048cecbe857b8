"""PromptPay: the Thai QR payment scheme, as billing offers it.

- :mod:`.payload`: the EMVCo merchant-presented payload (tag 29), built and parsed here;
- :mod:`.qr`: the payload drawn as an inline SVG QR code;
- :mod:`.conf`: the gym's PromptPay settings (route, its own PromptPay ID, expiry).

The requests members pay (``PromptPayRequest``) live in ``billing.models`` and change
only through ``billing.services.promptpay``.
"""
