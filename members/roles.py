"""The staff roles, as data: which permissions each job needs.

A permission that does not exist yet (its app is not installed or not migrated) is
skipped; ``sync_after_migrate`` fills it in once the app's migration has run.

- Front desk: manages members, checks them in and sells.  It cannot change prices or
  plans, refund, or see reports.
- Manager: the front desk's work, plus plans, refunds and dunning actions.
- Owner: everything, including reports and settings.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

FRONT_DESK = "Front desk"
MANAGER = "Manager"
OWNER = "Owner"
ROLES = (FRONT_DESK, MANAGER, OWNER)

_MEMBER_CORE = [
    "members.view_member",
    "members.add_member",
    "members.change_member",
    "members.check_in_member",
    "members.view_household",
    "members.add_household",
    "members.change_household",
    "members.view_membernote",
    "members.add_membernote",
    "members.change_membernote",
    "members.view_agreementversion",
    "members.view_agreementsignature",
    "members.add_agreementsignature",
    "members.view_gymprofile",
    # Leads from the online join: the desk follows them up.
    "members.view_lead",
    "members.change_lead",
    "members.view_leadmessage",
    # Privacy: the desk records a member's erasure request and sees their consents; a
    # manager downloads their data and approves the erasure.
    "members.add_privacyrequest",
    "members.view_consent",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    FRONT_DESK: [
        *_MEMBER_CORE,
        # Billing: sell memberships and take payments; never edit plans or refund.
        "billing.view_plan",
        "billing.view_addon",
        "billing.view_pack",
        "billing.view_membership",
        "billing.add_membership",
        "billing.change_membership",
        "billing.view_invoice",
        "billing.view_paymentattempt",
        "billing.view_paymentmethod",
        "billing.add_paymentmethod",
        "billing.take_payment",
        "billing.view_ledgerentry",
        "billing.view_promptpayrequest",
        # Access control: check-in and credentials.
        "access_control.view_accessevent",
        "access_control.add_accessevent",
        "access_control.view_credential",
        "access_control.add_credential",
        "access_control.change_credential",
        "access_control.override_access",
        "billing.view_zone",
        "billing.view_location",
        # Classes and POS.
        "classes.view_classsession",
        "classes.view_booking",
        "classes.add_booking",
        "classes.change_booking",
        "classes.view_classtype",
        "classes.view_instructor",
        "classes.view_room",
        "classes.view_schedule",
        "classes.view_classfee",
        "classes.view_bookingsuspension",
        "pos.view_product",
        "pos.view_sale",
        "pos.add_sale",
        "pos.view_tillsession",
        "pos.add_tillsession",
        "pos.change_tillsession",
        "pos.view_category",
        "pos.view_station",
        "pos.view_stocklevel",
        "pos.view_stockmovement",
        "pos.receive_stock",
        "pos.view_salerefund",
        "dunning.view_dunningcase",
    ],
    MANAGER: [
        "members.delete_membernote",
        # Members' data requests from the portal (copy, erasure).
        "members.view_privacyrequest",
        "members.change_privacyrequest",
        "members.export_member_data",
        "members.approve_erasure",
        "members.add_agreementversion",
        "members.change_agreementversion",
        # Plans and prices.
        "billing.add_plan",
        "billing.change_plan",
        "billing.add_addon",
        "billing.change_addon",
        "billing.add_pack",
        "billing.change_pack",
        "billing.add_coupon",
        "billing.change_coupon",
        "billing.view_coupon",
        "billing.refund_payment",
        "billing.view_payment",  # refunds start from the payment's page
        "billing.view_refund",
        "billing.add_creditnote",
        "billing.view_creditnote",
        "billing.grant_free_time",
        # Dunning actions.
        "dunning.change_dunningcase",
        "dunning.act_on_dunning",
        "dunning.view_declinerule",
        "dunning.change_declinerule",
        "dunning.add_declinerule",
        "dunning.view_retrypolicy",
        "dunning.change_retrypolicy",
        "dunning.view_ladderstep",
        "dunning.change_ladderstep",
        "dunning.add_ladderstep",
        "dunning.view_paydaycalendar",
        "dunning.change_paydaycalendar",
        "dunning.add_paydaycalendar",
        "dunning.view_paymentplan",
        "dunning.add_paymentplan",
        # Devices and stock.
        "access_control.view_device",
        "access_control.add_device",
        "access_control.change_device",
        "pos.add_product",
        "pos.change_product",
        "pos.refund_sale",
        "pos.discount_sale",
        "pos.adjust_stock",
        "pos.approve_difference",
        "pos.add_category",
        "pos.change_category",
        "pos.add_station",
        "pos.change_station",
        "classes.add_classsession",
        "classes.change_classsession",
        # Classes: the timetable, its rules, and waiving fees.
        "classes.add_classtype",
        "classes.change_classtype",
        "classes.add_schedule",
        "classes.change_schedule",
        "classes.add_room",
        "classes.change_room",
        "classes.add_instructor",
        "classes.change_instructor",
        "classes.change_classfee",
        "classes.change_bookingsuspension",
        "classes.view_bookingevent",
        "classes.view_classmessage",
    ],
}
# Roles build on each other: a manager can do all the front desk does.
ROLE_PERMISSIONS[MANAGER] = ROLE_PERMISSIONS[FRONT_DESK] + ROLE_PERMISSIONS[MANAGER]


def sync_roles(apps: Any = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups and give each exactly the permissions of its job."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    all_permissions = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in permission_model.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role in ROLES:
        group, _ = group_model.objects.using(using).get_or_create(name=role)
        if role == OWNER:
            wanted = set(all_permissions.values())
        else:
            wanted = {all_permissions[p] for p in ROLE_PERMISSIONS[role] if p in all_permissions}
        group.permissions.set(wanted)


def sync_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    # Runs once per app; only the last app's signal sees every permission, so sync each time.
    from django.contrib.auth.management import create_permissions

    if sender.name != "members":
        return
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles(using=using)
