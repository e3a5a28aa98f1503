"""The deploy kit (deploy/): the systemd units pass `systemd-analyze verify` and its security
check, the nginx site passes `nginx -t`, and the site itself, run by a real nginx in front of two
real web servers, keeps /metrics from the world, believes only the X-Forwarded-For it wrote,
upgrades /ws/ to the feed server, and carries a rolling restart under a retrying caller with
nothing lost, nothing doubled and no failed request. Figures are printed at the end of the run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fuzz import report
from tests.ops_support import ROOT, OpsDatabase, applied, common, drive, free_port, superuser

UNITS = ROOT / "deploy" / "systemd"
SITE = ROOT / "deploy" / "nginx" / "b2b.conf"
BALANCES = 10
CLIENT, STRANGER = "127.0.0.3", "127.0.0.4"  # callers' source addresses (all of 127/8 is local)
LISTEN = "127.0.0.2"


def installed_units(directory: Path) -> list[Path]:
    """The units as installed into `directory`, /opt/b2b being this checkout (verify checks that
    every ExecStart exists), the web template instantiated on port 8000."""
    units = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text().replace("/opt/b2b", str(ROOT))
        name = unit.name.replace("@.service", "@8000.service")
        (directory / name).write_text(text)
        units.append(directory / name)
    return units


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_the_systemd_units_verify_and_are_hardened(tmp_path):
    units = installed_units(tmp_path)
    assert {u.name for u in units} == {"b2b-web@8000.service", "b2b-feed.service", "b2b-worker.service",
                                       "b2b-beat.service"}
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    # Unknown or unparsable settings are only warnings: none may appear.
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr
    for unit in units:
        text = unit.read_text()
        for setting in ("Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                        "ProtectHome=yes", "EnvironmentFile=/etc/b2b/b2b.env", "User=b2b", "KillMode=mixed",
                        "CapabilityBoundingSet=\n"):
            assert setting in text, (unit.name, setting)
        security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60)
        exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout).group(1))
        report.LINES.append(f"deploy: systemd-analyze security {unit.name}: exposure {exposure}")
        assert exposure <= 2.0, security.stdout


def test_a_unit_that_names_a_missing_program_fails_verify(tmp_path):
    # The check above can fail: a unit whose ExecStart does not exist is refused.
    if not shutil.which("systemd-analyze"):
        pytest.skip("needs systemd-analyze")
    unit = tmp_path / "b2b-worker.service"
    unit.write_text((UNITS / "b2b-worker.service").read_text().replace("/opt/b2b", str(tmp_path / "missing")))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and "is not executable" in result.stdout + result.stderr


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=wallet.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def nginx_config(directory: Path, *, https: int, http: int, web: tuple[int, int], feed: int) -> Path:
    """The site as it is shipped, on this machine: its certificate self-signed, its ports free ones
    on 127.0.0.2, the upstreams where this test runs them; wrapped in a minimal nginx.conf."""
    cert, key = self_signed(directory)
    site = SITE.read_text()
    replacements = {
        "listen 443 ssl http2;": f"listen {LISTEN}:{https} ssl http2;", "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen {LISTEN}:{http};", "listen [::]:80;": "",
        "/etc/b2b/tls/fullchain.pem": str(cert), "/etc/b2b/tls/privkey.pem": str(key),
        "127.0.0.1:8000": f"127.0.0.1:{web[0]}", "127.0.0.1:8002": f"127.0.0.1:{web[1]}",
        "127.0.0.1:8001": f"127.0.0.1:{feed}", "/opt/b2b/": f"{ROOT}/",
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (directory / "site.conf").write_text(site)
    conf = directory / "nginx.conf"
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    conf.write_text(f"""\
worker_processes 1;
pid {directory / 'nginx.pid'};
error_log {directory / 'error.log'} info;
events {{ worker_connections 512; }}
http {{
    access_log {directory / 'access.log'};
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory / 'site.conf'};
}}
""")
    return conf


needs_nginx = pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"),
                                 reason="needs nginx and openssl (apt nginx)")


@needs_nginx
def test_the_nginx_site_passes_nginx_t(tmp_path):
    conf = nginx_config(tmp_path, https=free_port(), http=free_port(), web=(8000, 8002), feed=8001)
    result = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "t.log")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


class Site:
    """Two web servers (bin/serve), the feed (bin/serve-feed) and nginx with the shipped site."""

    def __init__(self, db: OpsDatabase, directory: Path):
        self.db, self.directory = db, directory
        self.web_ports = (free_port(), free_port())
        self.feed_port, self.https, self.http = free_port(), free_port(), free_port()
        self.servers: dict[int, subprocess.Popen] = {}
        self.conf = nginx_config(directory, https=self.https, http=self.http, web=self.web_ports,
                                 feed=self.feed_port)
        self.nginx: subprocess.Popen | None = None
        self.feed: subprocess.Popen | None = None

    def env(self, port: int) -> dict:
        return self.db.env(port=port, GRANIAN_WORKERS="1", B2B_TRUSTED_PROXIES="127.0.0.1",
                           B2B_ALLOWED_IPS=CLIENT, DJANGO_ALLOWED_HOSTS="wallet.example.com,127.0.0.1",
                           DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
                           REDIS_URL="redis://127.0.0.1:6379/14",
                           PROMETHEUS_MULTIPROC_DIR=str(self.directory / f"prometheus-{port}"),
                           FEED_PORT=str(self.feed_port))

    def serve(self, port: int) -> float:
        started = time.monotonic()
        self.servers[port] = common.serve(self.env(port), self.directory / f"web-{port}.log")
        return time.monotonic() - started

    def drain(self, port: int) -> float:
        """SIGTERM to granian alone, as systemd's KillMode=mixed sends it; the time it took to exit."""
        server = self.servers.pop(port)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            raise AssertionError(f"web server on {port} did not stop within 30 s of SIGTERM") from None
        return time.monotonic() - started

    def start(self) -> Site:
        for port in self.web_ports:
            self.serve(port)
        self.feed = subprocess.Popen([str(ROOT / "bin" / "serve-feed")], cwd=ROOT, env=self.env(self.web_ports[0]),
                                     start_new_session=True, stdout=open(self.directory / "feed.log", "w"),
                                     stderr=subprocess.STDOUT)
        self.nginx = subprocess.Popen(["nginx", "-c", str(self.conf), "-p", str(self.directory), "-e",
                                       str(self.directory / "error.log"), "-g", "daemon off;"],
                                      start_new_session=True)
        for port in (self.https, self.feed_port):
            host = LISTEN if port == self.https else "127.0.0.1"
            deadline = time.time() + 30
            while socket.socket().connect_ex((host, port)) != 0:
                assert time.time() < deadline, f"nothing listens on {host}:{port}"
                time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait(timeout=30)
        for process in [self.feed, *self.servers.values()]:
            if process is not None:
                common.stop(process)

    def client(self, source: str = CLIENT) -> httpx.Client:
        return httpx.Client(base_url=f"https://{LISTEN}:{self.https}", headers={"Host": "wallet.example.com"},
                            transport=httpx.HTTPTransport(local_address=source, verify=False), verify=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not shutil.which("nginx") or not shutil.which("openssl"):
        pytest.skip("needs nginx and openssl (apt nginx)")
    db = OpsDatabase(name="b2b_ops_deploy", owner="b2b_ops_deploy_owner", server="b2b_ops_deploy_app",
                     work=tmp_path_factory.mktemp("deploy-db"), balances=BALANCES).create()
    running = Site(db, Path(tmp_path_factory.mktemp("deploy-site")))
    try:
        yield running.start()
    finally:
        running.stop()
        db.drop()


def test_metrics_are_closed_to_the_world_and_open_on_the_loopback(site):
    with site.client() as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics/").status_code == 404
        assert client.get("/healthz").status_code == 200
    direct = httpx.get(f"http://127.0.0.1:{site.web_ports[0]}/metrics", headers={"Host": "127.0.0.1"})
    assert direct.status_code == 200 and "b2b_http_requests_total" in direct.text


def test_only_the_address_nginx_saw_counts_as_the_client(site):
    path = "/v1/customers/c1/balances/b1_USD"
    auth = {"Authorization": f"Bearer {site.db.token}"}
    with site.client(CLIENT) as client:
        assert client.get(path, headers={**auth, "X-Forwarded-For": "198.51.100.7"}).status_code == 200
    with site.client(STRANGER) as stranger:
        # A stranger writing the allowed address into X-Forwarded-For is still the stranger.
        refused = stranger.get(path, headers={**auth, "X-Forwarded-For": CLIENT})
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


def test_ws_is_upgraded_and_passed_to_the_feed_server(site):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((LISTEN, site.https), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="wallet.example.com") as tls:
        tls.sendall(b"GET /ws/events HTTP/1.1\r\nHost: wallet.example.com\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n")
        answer = tls.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 101"), answer[:300]
    assert "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in answer  # the feed server's own handshake answer


def test_sigterm_lets_the_request_in_flight_finish_before_the_server_exits(site):
    """granian's own drain, without nginx: a debit waits for its balance row (locked by another
    session) when the server gets SIGTERM; the lock is let go a second later. The debit is answered
    201 and applied, and only then does the server exit."""
    port = site.web_ports[0]
    with psycopg.connect(host="127.0.0.1", port=superuser()["port"], user="postgres", dbname=site.db.name) as lock:
        lock.execute("SELECT 1 FROM balances_balance WHERE balance_id = 'b3_USD' FOR UPDATE")
        answer = {}

        def debit():
            answer["response"] = httpx.post(
                f"http://127.0.0.1:{port}/v1/customers/c3/balances/b3_USD/debit", timeout=20,
                json={"request_id": "drain-1", "amount": "1.00", "currency_code": "USD", "comment": "drain"},
                headers={"Authorization": f"Bearer {site.db.token}", "Host": "127.0.0.1",
                         "X-Forwarded-For": CLIENT})
            answer["at"] = time.monotonic()

        request = threading.Thread(target=debit)
        request.start()
        time.sleep(1)  # the debit is waiting for the row now
        server = site.servers.pop(port)
        server.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert server.poll() is None  # still draining
        lock.rollback()
        request.join(timeout=20)
        server.wait(timeout=30)
        exited = time.monotonic()
    site.serve(port)
    assert answer["response"].status_code == 201, answer["response"].text
    assert answer["at"] <= exited
    assert applied(site.db, "drain-") == Counter({"drain-1": 1})


def test_a_rolling_restart_loses_nothing_doubles_nothing_and_fails_no_request(site):
    before = site.db.amounts()
    stop = threading.Event()
    outcome = {}
    caller = threading.Thread(target=lambda: outcome.update(result=drive(
        f"https://{LISTEN}:{site.https}", site.db.token, balances=BALANCES, threads=4, until=stop,
        client=lambda: site.client(), headers={"Host": "wallet.example.com"})))
    caller.start()
    figures = Counter()
    try:
        time.sleep(2)
        for n, port in enumerate(site.web_ports, 1):
            figures[f"web {n}: drained and exited after SIGTERM (ms)"] = round(1000 * site.drain(port))
            time.sleep(1)  # served by the other one alone meanwhile
            figures[f"web {n}: started again, ready (ms)"] = round(1000 * site.serve(port))
            # Longer than the site's fail_timeout (2 s): nginx has taken it back before the next goes
            # (docs/operations.md, "Rolling restart"; otherwise both are marked down: a 502).
            time.sleep(3)
    finally:
        stop.set()
        caller.join(timeout=60)
    result = outcome["result"]
    counts = applied(site.db)
    lost = sum(1 for rid in result.sent if rid not in result.failed and counts[rid] == 0)
    doubled = sum(1 for n in counts.values() if n > 1)
    after = site.db.amounts()
    errors = (site.directory / "error.log").read_text()
    passed_on = sum(1 for line in errors.splitlines() if "[error]" in line and "upstream" in line)
    verify = site.db.manage("ledger_verify").stdout.strip()
    p99 = sorted(result.latencies)[int(0.99 * len(result.latencies))]
    lines = [f"rolling restart: requests {len(result.sent)}, answered 201 {result.answers[201]}",
             f"rolling restart: caller retries {result.retries}, failed after retries {len(result.failed)}",
             f"rolling restart: answers seen {dict(result.seen)}",
             f"rolling restart: lost {lost}, doubled {doubled}",
             f"rolling restart: requests nginx passed to the other server {passed_on}",
             *(f"rolling restart: {name} {value}" for name, value in figures.items()),
             f"rolling restart: p99 latency {p99 * 1000:.0f} ms",
             f"rolling restart: {verify}"]
    report.LINES.extend(lines)
    assert len(result.sent) > 100
    assert not result.failed and lost == 0 and doubled == 0
    assert set(result.seen) == {201}, result.seen  # the caller never saw a failure, not even one it retried
    assert all(counts[rid] == 1 for rid in result.sent)
    assert {b: after[b] - before[b] for b in after} == result.expected(Decimal(0), BALANCES)
    assert verify.startswith("ledger_verify: OK")
