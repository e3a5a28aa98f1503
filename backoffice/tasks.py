"""Celery tasks of the staff workflow: look up, call a service, nothing more."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from backoffice.services import adjustment_requests_sweep, retention
from customers.errors import CustomerNotFound
from customers.selectors import customer_get, customer_profile

log = logging.getLogger(__name__)


@shared_task
def adjustment_requests_sweep_task() -> dict:
    swept = adjustment_requests_sweep()
    if any(vars(swept).values()):
        log.info("adjustment requests: %s", swept)
    return vars(swept)


@shared_task(bind=True, max_retries=10, acks_late=True)
def customer_email_send(self, customer_id: str, subject: str, body: str) -> None:
    try:
        to = customer_profile(customer=customer_get(customer_id=customer_id)).email
    except CustomerNotFound:
        to = ""
    if not to:  # erased meanwhile (or never had an address): nobody to write to
        log.info("customer email for %s not sent: no address on record", customer_id)
        return
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except OSError as exc:  # the mail server is down or refuses: try again later
        if self.request.is_eager:
            log.error("customer email for %s not sent: %s", customer_id, exc)
            return
        raise self.retry(countdown=60, exc=exc) from None


@shared_task
def outbox_payloads_expire() -> int:
    scrubbed = retention.outbox_payloads_expire()
    log.info("retention: %s delivered gateway call bodies scrubbed", scrubbed)
    return scrubbed


@shared_task
def signup_ips_expire() -> int:
    dropped = retention.signup_ips_expire()
    log.info("retention: %s sign-up addresses dropped", dropped)
    return dropped


@shared_task
def sessions_clear() -> int:
    cleared = retention.sessions_clear()
    log.info("retention: %s expired sessions cleared", cleared)
    return cleared
