import json

from b2b_server.commands import DomainCommand
from backoffice.services.export import customer_export


class Command(DomainCommand):
    help = ("Print one JSON document with everything we hold about a customer: profile, login, balances with "
            "every entry, money requests, the audit records about them and the gateway calls made for them.")

    def add_arguments(self, parser):
        parser.add_argument("customer_id")

    def handle(self, *args, **o):
        self.stdout.write(json.dumps(customer_export(customer_id=o["customer_id"]), indent=2, ensure_ascii=False))
