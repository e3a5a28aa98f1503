"""The feed served for real in tests: bin/serve-feed (granian, ASGI) on the test database, in its
own process group."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.gateway_peer import free_port

ROOT = Path(__file__).resolve().parents[2]


def server_env(key_dir: Path, port: int, **overrides: str) -> dict:
    db = connection.settings_dict
    return {**os.environ,
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                            f"{db['NAME']}",
            "B2B_ENVIRONMENT": "sandbox",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "B2B_PII_KEYS": ",".join(base64.b64encode(key).decode() for key in settings.B2B_PII_KEYS),
            "QUADCODE_PUBLIC_KEY_FILES": str(key_dir / "quadcode-public.pem"),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "FEED_PORT": str(port),
            "B2B_FEED_POLL": "0.2",
            **overrides}


@contextmanager
def feed_served(key_dir: Path, log_path: Path, **overrides: str):
    """Yields the feed's base URL (ws://127.0.0.1:PORT) once it accepts connections."""
    port = free_port()
    with open(log_path, "ab") as log:
        server = subprocess.Popen([str(ROOT / "bin" / "serve-feed")], cwd=ROOT,
                                  env=server_env(key_dir, port, **overrides), start_new_session=True,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the feed did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
