import time
from pathlib import Path

import jwt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from b2b_server.keys import load_es256_private_key


class Command(BaseCommand):
    help = ("Print a token as Quadcode would sign it, for trying the balance API in the sandbox. "
            "Refuses unless B2B_ENVIRONMENT is sandbox.")

    def add_arguments(self, parser):
        parser.add_argument("--private-key", type=Path, required=True, help="from `manage.py sandbox_keys`")
        parser.add_argument("--lifetime", type=int, default=300, help="seconds, at most 600")

    def handle(self, *args, **o):
        if settings.B2B_ENVIRONMENT != "sandbox":
            raise CommandError(f"sandbox_token only works when B2B_ENVIRONMENT=sandbox "
                               f"(it is {settings.B2B_ENVIRONMENT})")
        if not 0 < o["lifetime"] <= settings.B2B_JWT_MAX_LIFETIME:
            raise CommandError(f"--lifetime must be 1..{settings.B2B_JWT_MAX_LIFETIME}")
        try:
            key = load_es256_private_key(o["private_key"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        now = int(time.time())
        claims = {"iss": settings.QUADCODE_JWT_ISSUER, "aud": "sandbox", "iat": now, "exp": now + o["lifetime"]}
        self.stdout.write(jwt.encode(claims, key, algorithm="ES256"))
