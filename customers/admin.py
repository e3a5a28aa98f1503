from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("customer_id", "email", "country_code", "is_blocked", "created_at")
    list_filter = ("is_blocked", "country_code")
    search_fields = ("customer_id", "email", "first_name", "last_name")
    readonly_fields = ("created_at", "updated_at")
    raw_id_fields = ("user",)
