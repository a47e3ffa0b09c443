from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from tenants import services
from tenants.models import Membership, Quota, Tenant
from tenants.quotas import QUOTA_LIMIT_FIELDS
from tenants.selectors import tenant_student_usage, tenant_usage
from tenants.services import TENANT_EDITABLE


class MembershipInlineForm(forms.ModelForm):
    """A membership's person is fixed once it exists; change its role, or remove it and add another."""

    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["user"].disabled = True


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipInlineForm
    extra = 0
    autocomplete_fields = ["user"]


def save_memberships(formset, *, actor) -> None:
    """Membership changes go through the services, which keep the django-guardian grants in step."""
    changed = formset.save(commit=False)
    for membership in formset.deleted_objects:
        services.membership_remove(actor=actor, membership=membership)
    for membership in changed:
        if membership.pk is None:
            services.membership_add(actor=actor, tenant=membership.tenant, user=membership.user, role=membership.role)
        else:
            services.membership_change_role(actor=actor, membership=membership, role=membership.role)


class QuotaInline(admin.StackedInline):
    model = Quota
    can_delete = False
    min_num = 1
    max_num = 1


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [QuotaInline, MembershipInline]
    readonly_fields = ["usage_against_quota"]

    def get_readonly_fields(self, request, obj=None):
        # The slug never changes once the tenant exists: URLs and host object names use it.
        return ["slug", *self.readonly_fields] if obj is not None else self.readonly_fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    def save_model(self, request, obj, form, change):
        """Through the services, as the API: ``tenant_create`` (with its quota) or ``tenant_update``."""
        if change:
            fields = {name: form.cleaned_data[name] for name in TENANT_EDITABLE if name in form.changed_data}
            services.tenant_update(actor=request.user, tenant=obj, **fields)
        else:
            created = services.tenant_create(actor=request.user, slug=obj.slug, name=obj.name)
            if not form.cleaned_data.get("active", True):
                services.tenant_update(actor=request.user, tenant=created, active=False)
            obj.pk, obj.slug = created.pk, created.slug

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            save_memberships(formset, actor=request.user)
        elif formset.model is Quota:
            formset.save(commit=False)  # saves nothing; sets what the admin's change message reads
            for quota_form in formset.forms:  # one quota per tenant; its limits through quota_update
                limits = {name: quota_form.cleaned_data[name] for name in QUOTA_LIMIT_FIELDS}
                services.quota_update(actor=request.user, tenant=form.instance, **limits)
        else:
            super().save_formset(request, form, formset, change)

    @admin.display(description="Usage against quota")
    def usage_against_quota(self, tenant):
        """Every limit of the quota table: the tenant's usage, and the busiest student's."""
        if tenant.pk is None or not Quota.objects.filter(tenant=tenant).exists():
            return "-"
        lines = [(line, "") for line in tenant_usage(tenant)]
        lines += [(line, " (busiest student)") for line in tenant_student_usage(tenant)]
        return format_html_join(
            "\n",
            "<div>{}: {} of {} {} ({}%){}</div>",
            ((line.quota, line.used, line.limit, line.unit, round(100 * line.fraction), who) for line, who in lines),
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "user"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            services.membership_change_role(actor=request.user, membership=obj, role=obj.role)
        else:
            obj.pk = services.membership_add(actor=request.user, tenant=obj.tenant, user=obj.user, role=obj.role).pk

    def delete_model(self, request, obj):
        services.membership_remove(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_remove(actor=request.user, membership=membership)
