from celery import shared_task

from integrations.webhooks import webhooks_deliver


@shared_task(ignore_result=True)
def webhooks_deliver_task() -> None:
    webhooks_deliver()
