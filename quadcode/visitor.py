"""Where the end user is, as the gateway wants to know it (country, address, language, site),
read from the page request they made."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation

from b2b_server.clientip import client_ip_text
from customers.ids import is_country_code


@dataclass(frozen=True)
class Visitor:
    country_code: str
    ip: str
    locale: str
    site_domain: str


def visitor_of(request, customer) -> Visitor:
    """The country from the geolocating CDN's header (B2B_COUNTRY_HEADER) when it names one, else
    the profile's; the client address by the trusted-proxy rules; the page's language."""
    country = ""
    if settings.B2B_COUNTRY_HEADER:
        header = "HTTP_" + settings.B2B_COUNTRY_HEADER.upper().replace("-", "_")
        country = request.META.get(header, "").strip().upper()
    if not is_country_code(country):
        country = customer.country_code
    return Visitor(country_code=country, ip=client_ip_text(request.META),
                   locale=translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE),
                   site_domain=settings.B2B_SITE_DOMAIN or request.get_host().rsplit(":", 1)[0])
