"""Celery tasks: look up ids, call a service, nothing more."""

from celery import shared_task

from quadcode import outbox, selectors, services


@shared_task(bind=True, max_retries=None, acks_late=True, name=outbox.DELIVER_TASK)
def gateway_call_deliver(self, call_id: int) -> bool:
    delivery = outbox.gateway_call_deliver(call_id=call_id)
    if delivery.retry_in is not None and not self.request.is_eager:
        # In-process (no broker) a failed call stays pending for the next redelivery sweep.
        raise self.retry(countdown=delivery.retry_in)
    return delivery.delivered


@shared_task
def gateway_calls_redeliver() -> int:
    """Queue every due call again (beat, every minute); in-process without a broker."""
    due = selectors.gateway_calls_due()
    for call_id in due:
        gateway_call_deliver.delay(call_id)
    return len(due)


@shared_task
def allowed_countries_refresh() -> bool:
    return services.allowed_countries_refresh()
