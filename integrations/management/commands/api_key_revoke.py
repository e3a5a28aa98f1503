from audit.actors import Actor, staff_actor
from b2b_server.commands import DomainCommand
from integrations.services import api_key_revoke


class Command(DomainCommand):
    help = "Revoke a back-office API key for good: its next request is refused (401), its webhook stops."

    def add_arguments(self, parser):
        parser.add_argument("key_id")
        parser.add_argument("--by", metavar="USERNAME", help="a staff member holding auth.add_user (else the OS user)")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="auth.add_user") if o["by"] else Actor.cli()
        changed = api_key_revoke(key_id=o["key_id"], actor=actor)
        self.stdout.write(f"revoked {o['key_id']}" if changed else f"{o['key_id']} was revoked before")
