import json

from django.core.management.base import BaseCommand

from audit.selectors import audit_event_dict, audit_events
from b2b_server.commands import moment_argument


class Command(BaseCommand):
    help = "Print the audit trail, oldest first: who did what, when, to what."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO 8601, e.g. 2026-12-01 or 2026-12-01T09:00:00Z")
        parser.add_argument("--actor", help="a staff member's username (or cli:USER, api:KEY)")
        parser.add_argument("--action")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, **o):
        since = moment_argument(o["since"], "--since") if o["since"] else None
        for event in audit_events(since=since, actor=o["actor"], action=o["action"]):
            if o["json"]:
                self.stdout.write(json.dumps(audit_event_dict(event), ensure_ascii=False, sort_keys=True))
            else:
                self.stdout.write(f"{event.time:%Y-%m-%d %H:%M:%S}  {event.actor:20}  {event.action:22}  "
                                  f"{event.target:24}  {json.dumps(event.details, ensure_ascii=False)}")
