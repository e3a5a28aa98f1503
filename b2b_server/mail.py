"""The sandbox's mail: Django's console backend, written to stderr so that no command's
standard output (which scripts read) is ever mixed with an email."""

import sys

from django.core.mail.backends.console import EmailBackend


class ConsoleEmailBackend(EmailBackend):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
