from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.db.models.functions import Coalesce

from workers.models import Allocation, Host, TenantSegment, TenantSwitch
from workers.services.hosts import (
    HOST_EDITABLE,
    host_create,
    host_drain,
    host_enable,
    host_password_check,
    host_update,
)


class HostForm(forms.ModelForm):
    """The password is write-only: it is never rendered, and left blank it keeps the stored one.

    Saving goes through ``host_create`` and ``host_update`` (``HostAdmin.save_model``); the state
    is not a field here: the Drain and Enable actions change it, as the API's actions do.
    """

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave blank to keep the current password.",
    )

    class Meta:
        model = Host
        fields = list(HOST_EDITABLE)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:  # refuse before anything is saved; host_create applies the same rule
            try:
                host_password_check(password=cleaned.get("new_password"))
            except ValidationError as exc:
                self.add_error("new_password", exc.message_dict["password"])
        return cleaned


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
    readonly_fields = ["state", "facts", "doctor_report", "last_seen", "capacity"]
    inlines = [AllocationInline]
    actions = ["drain", "enable"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in HOST_EDITABLE}
        password = form.cleaned_data.get("new_password")
        if change:
            host_update(actor=request.user, host=obj, password=password, **fields)
        else:
            obj.pk = host_create(actor=request.user, password=password, **fields).pk

    @admin.action(description="Drain: take no new labs on the selected hosts (their labs keep running)")
    def drain(self, request, queryset):
        for host in queryset:
            host_drain(actor=request.user, host=host)
        self.message_user(request, f"Drained {len(queryset)} host(s).", messages.SUCCESS)

    @admin.action(description="Enable: the selected hosts take new labs again")
    def enable(self, request, queryset):
        for host in queryset:
            host_enable(actor=request.user, host=host)
        self.message_user(request, f"Enabled {len(queryset)} host(s).", messages.SUCCESS)

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
