from django import forms
from django.contrib import admin
from django.db.models import Sum
from django.db.models.functions import Coalesce

from workers.models import Allocation, Host, TenantSegment, TenantSwitch


class HostForm(forms.ModelForm):
    """The password is write-only: it is never rendered, and left blank it keeps the stored one."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave blank to keep the current password.",
    )

    class Meta:
        model = Host
        fields = [
            "name",
            "endpoint",
            "port",
            "transport",
            "use_tls",
            "username",
            "site",
            "logical_cpus",
            "memory_mb",
            "memory_reserved_mb",
            "storage_gb",
            "vcpu_overcommit",
            "max_parallel_operations",
            "vm_root",
            "external_adapter",
            "state",
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.has_password and not cleaned.get("new_password"):
            self.add_error("new_password", "A new host needs a password.")
        return cleaned

    def save(self, commit=True):
        host = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            host.set_password(self.cleaned_data["new_password"])
        if commit:
            host.save()
        return host


class AllocationInline(admin.TabularInline):
    model = Allocation
    extra = 0
    can_delete = False
    fields = ["lab", "vcpus", "memory_mb", "storage_gb", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    form = HostForm
    list_display = ["name", "endpoint", "state", "site", "logical_cpus", "memory_mb", "storage_gb", "used", "last_seen"]
    list_filter = ["state", "site", "transport"]
    search_fields = ["name", "endpoint"]
    readonly_fields = ["facts", "doctor_report", "last_seen", "capacity"]
    inlines = [AllocationInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                used_vcpus=Coalesce(Sum("allocations__vcpus"), 0),
                used_memory=Coalesce(Sum("allocations__memory_mb"), 0),
                used_storage=Coalesce(Sum("allocations__storage_gb"), 0),
            )
        )

    @admin.display(description="Allocated (vCPU / MB / GB)")
    def used(self, host):
        return (
            f"{host.used_vcpus}/{host.vcpu_capacity} · {host.used_memory}/{host.memory_capacity_mb} · "
            f"{host.used_storage}/{host.storage_gb}"
        )

    @admin.display(description="Capacity for labs")
    def capacity(self, host):
        if host.pk is None:
            return "-"
        return f"{host.vcpu_capacity} vCPUs, {host.memory_capacity_mb} MB memory, {host.storage_gb} GB storage"


@admin.register(TenantSwitch)
class TenantSwitchAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "host", "mode", "lab"]
    list_filter = ["host", "mode"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(TenantSegment)
class TenantSegmentAdmin(admin.ModelAdmin):
    list_display = ["tenant", "vlan_id", "nat_prefix"]
