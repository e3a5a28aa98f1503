"""The gateway simulator as a real HTTP peer (a process of its own) and the settings that point
our gateway client at it. Test packages that talk to the gateway turn `gateway_settings` on
for all their tests (see tests/traderoom/conftest.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache

ROOT = Path(__file__).resolve().parents[1]
B2B_ISSUER = "broker-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Simulator:
    def __init__(self, url: str):
        self.url = url

    def _post(self, path: str, payload: dict | None = None) -> dict:
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(payload or {}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"{}")

    def reset(self):
        self._post("/_control/reset")

    def state(self, **state):
        self._post("/_control/state", state)

    def fault(self, match: str, status: int | None = None, *, times: int = 1, delay: float = 0.0,
              body: dict | None = None, headers: dict | None = None):
        self._post("/_control/faults", {"faults": [{"match": match, "status": status, "times": times, "delay": delay,
                                                    "body": body, "headers": headers or {}}]})

    def calls(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/_control/calls", timeout=5) as response:
            return json.loads(response.read())["calls"]

    def state_of_customer_blocked(self, customer_id: str) -> bool:
        with urllib.request.urlopen(f"{self.url}/_control/calls", timeout=5) as response:
            return customer_id in json.loads(response.read())["blocked"]

    def customers(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_control/calls", timeout=5) as response:
            return json.loads(response.read())["customers"]


@pytest.fixture(scope="session")
def simulator(key_dir, live_server):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port),
         "--b2b-public-key", str(key_dir / "b2b-public.pem"),
         "--quadcode-private-key", str(key_dir / "quadcode-private.pem"),
         "--balance-api-url", live_server.url, "--issuer", B2B_ISSUER],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/_control/calls", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"the simulator did not start: {process.stdout.read().decode()}")
    yield Simulator(url)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def gateway_settings(settings, simulator, key_dir):
    simulator.reset()
    cache.clear()
    settings.QUADCODE_API_URL = simulator.url
    settings.B2B_PRIVATE_KEY_FILE = str(key_dir / "b2b-private.pem")
    settings.B2B_JWT_ISSUER = B2B_ISSUER
    settings.QUADCODE_TIMEOUT = 2.0
    settings.B2B_SITE_DOMAIN = ""
    settings.B2B_COUNTRY_HEADER = ""
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "trade.example.com"]
    return settings


