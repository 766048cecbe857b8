"""The member portal's shell: sign-in, the layout, home, profile and privacy.

Other apps add their own pages under their own ``portal/`` module and cards on the home
page through ``members.hooks`` (``portal_home_cards``, ``portal_menu``).  The contract is
in ``docs/portal.md``.
"""
