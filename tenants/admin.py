from django.contrib import admin
from django.utils.html import format_html_join

from tenants.models import Membership, Quota, Tenant
from tenants.selectors import tenant_usage


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


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

    @admin.display(description="Usage against quota")
    def usage_against_quota(self, tenant):
        if tenant.pk is None or not Quota.objects.filter(tenant=tenant).exists():
            return "-"
        return format_html_join(
            "\n",
            "<div>{}: {} of {} {} ({}%)</div>",
            (
                (line.quota, line.used, line.limit, line.unit, round(100 * line.fraction))
                for line in tenant_usage(tenant)
            ),
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
