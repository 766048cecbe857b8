"""Classes' pages in the member portal (``/portal/classes/``) and its home-page card."""
