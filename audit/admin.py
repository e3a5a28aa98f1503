from django.contrib import admin

from audit.models import AuditEvent
from b2b_server.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "actor", "action", "target", "details")
    list_filter = ("action", "time", "actor")
    search_fields = ("actor", "target")
    date_hierarchy = "time"
