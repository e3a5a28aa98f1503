from b2b_server.errors import DomainError


class PermissionMissing(DomainError):
    code, http_status = "permission_denied", 403
    default_message = "This needs an active staff member with the permission."
