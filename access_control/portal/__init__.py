"""Access control in the member portal: the rotating QR pass (``/portal/pass/``)."""
