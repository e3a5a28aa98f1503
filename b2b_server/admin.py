"""Shared admin base classes (no domain code)."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible, never edited from the admin: history (the ledger) and what we only record."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
