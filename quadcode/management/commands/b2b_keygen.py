from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from b2b_server.keys import write_es256_keypair


class Command(BaseCommand):
    help = ("Write our ES256 key pair for calls to the gateway (what `openssl ecparam -name prime256v1 "
            "-genkey` and `openssl ec -pubout` make) and print the public key to hand to Quadcode.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--private", type=Path, default=Path("private.pem"))
        parser.add_argument("--public", type=Path, default=Path("public.pem"))
        parser.add_argument("--force", action="store_true", help="overwrite an existing private key")

    def handle(self, *args, **o):
        if o["private"].exists() and not o["force"]:
            raise CommandError(f"{o['private']} exists; use --force to replace it "
                               "(Quadcode must then get the new public key)")
        public_pem = write_es256_keypair(o["private"], o["public"])
        self.stderr.write(f"private key: {o['private']} (keep it here; set B2B_PRIVATE_KEY_FILE to it)\n"
                          f"public key:  {o['public']} (send it to Quadcode):\n")
        self.stdout.write(public_pem.decode(), ending="")
