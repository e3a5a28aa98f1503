"""Celery tasks of the staff workflow: look up, call a service, nothing more."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from backoffice.services import adjustment_requests_sweep

log = logging.getLogger(__name__)


@shared_task
def adjustment_requests_sweep_task() -> dict:
    swept = adjustment_requests_sweep()
    if any(vars(swept).values()):
        log.info("adjustment requests: %s", swept)
    return vars(swept)


@shared_task(bind=True, max_retries=10, acks_late=True)
def customer_email_send(self, to: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except OSError as exc:  # the mail server is down or refuses: try again later
        if self.request.is_eager:
            log.error("customer email to %s not sent: %s", to.split("@")[-1], exc)
            return
        raise self.retry(countdown=60, exc=exc) from None
