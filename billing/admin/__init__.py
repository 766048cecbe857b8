"""The front desk's billing screens.

Records that carry money are read-only here.  Every change of state is a button or an
action that calls one ``billing.services`` function; what a service refuses comes back
as an error message on the page, never as a server error.  Amounts are typed in the
currency's major units (``1500.00``) and turned into minor units exactly.

- ``base``: shared machinery (money, read-only records, member search, service pages);
- ``forms``: the inputs those pages collect;
- ``catalogue``: plans, add-ons, packs and coupons;
- ``memberships``: sign-up and the membership buttons and bulk actions;
- ``invoices``: invoices, charging, manual payments, credit notes and voids;
- ``payments``: payment attempts, payments and refunds, stored cards;
- ``records``: credit notes, the ledger, webhook events and notifications;
- ``promptpay``: PromptPay QR codes for invoices, and confirming transfers to the gym's ID.

Importing this package registers every screen with the admin site.
"""

from __future__ import annotations

from ..money import major_units
from .base import (
    ACTION_FORM_TEMPLATE,
    CHANGE_FORM_WITH_ACTIONS,
    AmountColumn,
    InvoiceMemberColumn,
    MemberSearchMixin,
    ObjectTool,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceActionsMixin,
    describe_error,
    money,
    posted,
)
from .catalogue import (
    PLAN_TERMS_FIXED_ONCE_SOLD,
    AddOnAdmin,
    CouponAdmin,
    PackAdmin,
    PlanAdmin,
    PlanEntitlementInline,
)
from .forms import (
    CARD_NUMBER_MESSAGE,
    AmountReasonForm,
    AttachCardForm,
    BillingForm,
    CancelForm,
    ChangePlanForm,
    ConfirmForm,
    CouponForm,
    FreezeForm,
    GrantFreeTimeForm,
    ManualPaymentForm,
    MoneyField,
    use_autocomplete,
)
from .invoices import (
    CreditNoteInline,
    InvoiceAdmin,
    InvoiceLineInline,
    PaymentAttemptInline,
    PaymentInline,
)
from .memberships import (
    MEMBERSHIP_COLOURS,
    MembershipAdmin,
    MembershipEventInline,
    MembershipFreezeInline,
)
from .payments import PaymentAdmin, PaymentAttemptAdmin, PaymentMethodAdmin, RefundInline
from .promptpay import PromptPayRequestAdmin
from .records import (
    CreditNoteAdmin,
    GatewayWebhookEventAdmin,
    LedgerEntryAdmin,
    NotificationAdmin,
)

__all__ = [
    "ACTION_FORM_TEMPLATE",
    "CARD_NUMBER_MESSAGE",
    "CHANGE_FORM_WITH_ACTIONS",
    "MEMBERSHIP_COLOURS",
    "PLAN_TERMS_FIXED_ONCE_SOLD",
    "AddOnAdmin",
    "AmountColumn",
    "AmountReasonForm",
    "AttachCardForm",
    "BillingForm",
    "CancelForm",
    "ChangePlanForm",
    "ConfirmForm",
    "CouponAdmin",
    "CouponForm",
    "CreditNoteAdmin",
    "CreditNoteInline",
    "FreezeForm",
    "GatewayWebhookEventAdmin",
    "GrantFreeTimeForm",
    "InvoiceAdmin",
    "InvoiceLineInline",
    "InvoiceMemberColumn",
    "LedgerEntryAdmin",
    "ManualPaymentForm",
    "MemberSearchMixin",
    "MembershipAdmin",
    "MembershipEventInline",
    "MembershipFreezeInline",
    "MoneyField",
    "NotificationAdmin",
    "ObjectTool",
    "PackAdmin",
    "PaymentAdmin",
    "PaymentAttemptAdmin",
    "PaymentAttemptInline",
    "PaymentInline",
    "PaymentMethodAdmin",
    "PlanAdmin",
    "PlanEntitlementInline",
    "PromptPayRequestAdmin",
    "ReadOnlyAdmin",
    "ReadOnlyInline",
    "RefundInline",
    "ServiceActionsMixin",
    "describe_error",
    "major_units",
    "money",
    "posted",
    "use_autocomplete",
]
