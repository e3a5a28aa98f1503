import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.selectors import audit_event_dict, audit_events


def _since(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be an ISO 8601 date or time, not {value!r}") from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Print the audit trail, oldest first: who did what, when, to what."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601, e.g. 2026-12-01 or 2026-12-01T09:00:00Z")
        parser.add_argument("--actor", help="a staff member's username (or cli:USER, api:KEY)")
        parser.add_argument("--action")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **o):
        since = _since(o["since"]) if o["since"] else None
        for event in audit_events(since=since, actor=o["actor"], action=o["action"]):
            if o["json"]:
                self.stdout.write(json.dumps(audit_event_dict(event), ensure_ascii=False, sort_keys=True))
            else:
                self.stdout.write(f"{event.time:%Y-%m-%d %H:%M:%S}  {event.actor:20}  {event.action:22}  "
                                  f"{event.target:24}  {json.dumps(event.details, ensure_ascii=False)}")
