from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """django.contrib.admin, served by our site (backoffice.site.StaffAdminSite). Its own module:
    beside backoffice's AppConfig it would make two default configs for one app."""

    default_site = "backoffice.site.StaffAdminSite"
