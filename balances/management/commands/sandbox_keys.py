from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from b2b_server.keys import write_es256_keypair


class Command(BaseCommand):
    help = ("Write a sandbox stand-in for Quadcode's ES256 key pair, so the balance API can be tried "
            "without Quadcode. Put the public file in QUADCODE_PUBLIC_KEY_FILES.")
    requires_system_checks = []  # it makes the keys the checks look for

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--force", action="store_true", help="overwrite existing files")

    def handle(self, *args, **o):
        private = o["directory"] / "quadcode-sandbox-private.pem"
        public = o["directory"] / "quadcode-sandbox-public.pem"
        if private.exists() and not o["force"]:
            raise CommandError(f"{private} exists; use --force to replace it")
        write_es256_keypair(private, public)
        self.stdout.write(f"private key: {private}\npublic key:  {public}")
