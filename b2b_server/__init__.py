from b2b_server.celery import app as celery_app

__all__ = ["celery_app"]
