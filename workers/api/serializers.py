from __future__ import annotations

from rest_framework import serializers

from workers.models import Host
from workers.services.hosts import HOST_EDITABLE

#: Where the password fields stand among the editable ones in the output (after the username).
_PASSWORD_AT = HOST_EDITABLE.index("username") + 1


class HostSerializer(serializers.ModelSerializer):
    """A Hyper-V host. ``password`` is accepted on write and never returned; ``has_password`` says
    whether one is stored. State changes go through the drain/enable actions, not through edits.
    What may be set, and that a new host needs a password, is ``host_create``'s and ``host_update``'s
    to decide."""

    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1024,
        style={"input_type": "password"},
        help_text="Required for a new host; blank or left out on an edit keeps the stored one.",
    )
    has_password = serializers.BooleanField(read_only=True)

    class Meta:
        model = Host
        fields = [
            "id",
            *HOST_EDITABLE[:_PASSWORD_AT],
            "password",
            "has_password",
            *HOST_EDITABLE[_PASSWORD_AT:],
            "state",
            "facts",
            "doctor_report",
            "last_seen",
            "created_at",
        ]
        read_only_fields = ["id", "state", "facts", "doctor_report", "last_seen", "created_at", "has_password"]
        extra_kwargs = {
            "name": {"validators": []},
            "logical_cpus": {"max_value": 4096},
            "memory_mb": {"max_value": 2_000_000_000},
            "memory_reserved_mb": {"max_value": 2_000_000_000},
            "storage_gb": {"max_value": 2_000_000_000},
            "max_parallel_operations": {"max_value": 64},
        }
