"""API tokens in the admin: who holds one and until when, never the token.

knox's own admin lists each token's digest (also its primary key, so it would appear in every
link and checkbox); it is replaced by a read-only list without links or actions. A person's
tokens are revoked from the users list ("Revoke API tokens"), or by changing their password or
deactivating them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from knox.models import AuthToken

from accounts import services
from config.admin import ViewOnlyAdminMixin

admin.site.unregister(AuthToken)
User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class NestlabUserAdmin(UserAdmin):
    actions = ["revoke_api_tokens"]

    @admin.action(description="Revoke API tokens of the selected users", permissions=["change"])
    def revoke_api_tokens(self, request, queryset):
        revoked = sum(
            services.tokens_revoke_all(user=user, reason=f"revoked in the admin by {request.user.get_username()}")
            for user in queryset
        )
        self.message_user(request, f"Revoked {revoked} API token(s) of {queryset.count()} user(s).", messages.SUCCESS)


@admin.register(AuthToken)
class AuthTokenAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "prefix", "created", "expiry")
    list_display_links = None  # the primary key is the digest: no links, no per-row pages
    list_select_related = ("user",)
    search_fields = ("user__username",)
    ordering = ("-created",)
    actions = None  # the action checkboxes would carry the digest too
    show_full_result_count = False

    @admin.display(description="token begins")
    def prefix(self, obj: AuthToken) -> str:
        return f"{obj.token_key[:6]}…"

    def has_view_permission(self, request, obj=None):
        # The list only: a token's own page would be titled with its digest (knox's __str__).
        return obj is None and super().has_view_permission(request)
