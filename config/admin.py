"""What the apps' admins share. ``config`` is not an installed app: nothing here registers a model."""

from __future__ import annotations


class ViewOnlyAdminMixin:
    """A ModelAdmin whose rows are listed and read, never added, changed or deleted there."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
