"""API keys in the admin: who may call the back-office API, from where, and how its webhook is
doing. Keys are made with `api_key_create` (the secret is printed there, once); here they are
only read and revoked."""

from __future__ import annotations

from django.contrib import admin, messages

from audit.actors import Actor
from b2b_server.admin import ReadOnlyAdmin
from integrations.models import ApiKey
from integrations.services import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "name", "role", "created_at", "created_by", "revoked_at", "webhook_url",
                    "webhook_delivered", "webhook_failures", "webhook_retry_at")
    list_filter = ("role",)
    search_fields = ("key_id", "name")
    exclude = ("secret_wrapped", "master")
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys (for good)", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.staff(request.user)
        revoked = sum(api_key_revoke(key_id=key.key_id, actor=actor) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm("integrations.change_apikey")
