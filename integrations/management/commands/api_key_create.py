from audit.actors import Actor, staff_actor
from b2b_server.commands import DomainCommand
from integrations.models import ApiKey
from integrations.services import api_key_create


class Command(DomainCommand):
    help = ("Make a back-office API key. Prints `key: KEY_ID` and `secret: SECRET`: the secret is shown this "
            "once and stored only encrypted; hand it over now.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="what the key is for, e.g. crm")
        parser.add_argument("--role", required=True, choices=ApiKey.Role.values,
                            help="reader: reads; operator: also creates, blocks and asks to move money; "
                                 "approver: also decides what others asked")
        parser.add_argument("--allow-ip", action="append", default=[], metavar="CIDR",
                            help="an address or block the key may call from (repeat; none: any)")
        parser.add_argument("--webhook", default="", metavar="URL", help="where to POST the events, signed")
        parser.add_argument("--by", metavar="USERNAME", help="a staff member holding auth.add_user (else the OS user)")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="auth.add_user") if o["by"] else Actor.cli()
        created = api_key_create(name=o["name"], role=o["role"], allowed_ips=o["allow_ip"],
                                 webhook_url=o["webhook"], actor=actor)
        self.stdout.write(f"key: {created.key.key_id}")
        self.stdout.write(f"secret: {created.secret}")
