"""Celery tasks of the staff workflow: look up, call a service, nothing more."""

import logging

from celery import shared_task

from backoffice.services import adjustment_requests_sweep

log = logging.getLogger(__name__)


@shared_task
def adjustment_requests_sweep_task() -> dict:
    swept = adjustment_requests_sweep()
    if any(vars(swept).values()):
        log.info("adjustment requests: %s", swept)
    return vars(swept)
