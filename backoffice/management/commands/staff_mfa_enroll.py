import io

import segno

from audit.actors import Actor
from b2b_server.commands import DomainCommand
from backoffice.services import staff_mfa_enroll


class Command(DomainCommand):
    help = ("Give a staff member a new TOTP second factor (replacing any other), confirmed at once: the next code "
            "from the printed otpauth:// URI (or the QR code drawn below it) logs in.")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **o):
        uri = staff_mfa_enroll(username=o["username"], actor=Actor.cli())
        self.stdout.write(uri)
        drawing = io.StringIO()
        segno.make(uri, error="m").terminal(out=drawing, compact=True)
        self.stdout.write(drawing.getvalue())
