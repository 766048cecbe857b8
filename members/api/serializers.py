from __future__ import annotations

from typing import Any

from rest_framework import serializers

from members import services
from members.models import Member


class MemberSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)
    payer_id = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = [
            "id",
            "member_number",
            "first_name",
            "last_name",
            "full_name",
            "nickname",
            "email",
            "phone",
            "date_of_birth",
            "address_line1",
            "address_line2",
            "city",
            "province",
            "postal_code",
            "country",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relationship",
            "language",
            "transactional_email",
            "transactional_sms",
            "overpayment_as_credit",
            "marketing_email",
            "marketing_sms",
            "guardian",
            "household",
            "payer_id",
            "lead_source",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["member_number", "status", "created_at", "updated_at"]

    def get_payer_id(self, obj: Member) -> int:
        return obj.household.payer_id if obj.household else obj.pk

    def create(self, validated_data: dict[str, Any]) -> Member:
        return services.member_create(**validated_data)

    def update(self, instance: Member, validated_data: dict[str, Any]) -> Member:
        return services.member_update(instance, consent_source="api", **validated_data)
