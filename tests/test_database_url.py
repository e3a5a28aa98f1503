"""DATABASE_URL in libpq's multi-host form: parsed into HOST/PORT lists, and followed to the
server that accepts writes by a real connection."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dj_database_url
import pytest

from b2b_server import database_url

ROOT = Path(__file__).resolve().parents[1]


def test_a_multi_host_url_lists_hosts_and_ports_and_keeps_the_query_as_options():
    config = database_url.parse(
        "postgres://app:p%40ss%2Cword@db1.internal:5432,db2.internal:5433/b2b"
        "?target_session_attrs=read-write&connect_timeout=2&sslmode=verify-full", conn_max_age=600)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"]) == ("db1.internal,db2.internal", "5432,5433")
    assert (config["USER"], config["PASSWORD"], config["NAME"]) == ("app", "p@ss,word", "b2b")
    assert config["OPTIONS"] == {"target_session_attrs": "read-write", "connect_timeout": 2, "sslmode": "verify-full"}
    assert config["CONN_MAX_AGE"] == 600


@pytest.mark.parametrize("url,host,port", [
    ("postgresql://u@db1,db2:6000/b2b", "db1,db2", "5432,6000"),  # a host without a port gets the default
    ("postgres://u@db1,db2,db3/b2b", "db1,db2,db3", ""),  # none has one: libpq's default for all
    ("postgres://u@[2001:db8::1]:5432,[2001:db8::2]:5433/b2b", "2001:db8::1,2001:db8::2", "5432,5433"),
    ("pgsql://%2Fvar%2Frun%2Fpostgresql,db2:5433/b2b", "/var/run/postgresql,db2", "5432,5433"),
])
def test_every_host_keeps_its_own_port(url, host, port):
    config = database_url.parse(url)
    assert (config["HOST"], config["PORT"]) == (host, port)


@pytest.mark.parametrize("url", [
    "postgres://u@db1:5432/b2b?sslmode=require&connect_timeout=3",
    "postgres://u:pw@[2001:db8::1]:5433/b2b",
    "sqlite:////tmp/demo.sqlite3",
    "sqlite://:memory:",
])
def test_single_host_and_sqlite_urls_parse_exactly_as_dj_database_url_parses_them(url):
    assert database_url.parse(url, conn_max_age=600) == dj_database_url.parse(url, conn_max_age=600)


@pytest.mark.parametrize("url", [
    "postgres://u@db1:5432,:5433/b2b",  # an empty host
    "postgres://u@db1:5432,,db2/b2b",
    "postgres://u@db1:99999,db2/b2b",  # no such port
    "postgres://u@db1:54x2,db2/b2b",
    "postgres://u@[2001:db8::1:5432,db2/b2b",  # an unclosed bracket
    "postgres://u@[2001:db8::1]x,db2/b2b",
])
def test_a_bad_host_list_is_refused(url):
    with pytest.raises(ValueError):
        database_url.parse(url)


@pytest.mark.parametrize("value", ["postgres://u@db1:5432,:5433/b2b", "postgres://u@db1:99999,db2/b2b"])
def test_a_bad_multi_host_url_stops_start_naming_the_variable(value):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "DATABASE_URL": value})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_the_settings_keep_their_connection_options_on_a_multi_host_url(monkeypatch):
    import b2b_server.settings

    monkeypatch.setenv("DATABASE_URL", "postgres://app@db1:5432,db2:5433/b2b?target_session_attrs=read-write")
    try:
        settings = importlib.reload(b2b_server.settings)
        default = settings.DATABASES["default"]
        assert (default["HOST"], default["PORT"]) == ("db1,db2", "5432,5433")
        assert default["OPTIONS"]["target_session_attrs"] == "read-write"
        # what every PostgreSQL connection gets, one host or several
        assert "-c lock_timeout=5000" in default["OPTIONS"]["options"]
        assert default["OPTIONS"]["prepare_threshold"] == 5
    finally:
        monkeypatch.undo()
        importlib.reload(b2b_server.settings)


def dead_port() -> int:
    with socket.socket() as sock:  # bound and closed again: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_a_real_connection_passes_over_a_dead_first_host_to_the_live_one():
    from django.db import connection

    live = connection.settings_dict
    user = f"{live['USER']}@" if live["USER"] else ""
    url = (f"postgres://{user}127.0.0.1:{dead_port()},{live['HOST'] or '127.0.0.1'}:{live['PORT'] or 5432}/"
           f"{live['NAME']}?target_session_attrs=read-write&connect_timeout=3")
    probe = ("import django, json; django.setup(); from django.db import connection; c = connection.cursor(); "
             "c.execute('SELECT current_database(), inet_server_port(), pg_is_in_recovery()'); "
             "print(json.dumps([connection.settings_dict['HOST'], *c.fetchone()]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "b2b_server.settings"})
    assert result.returncode == 0, result.stderr[-2000:]
    hosts, name, port, in_recovery = json.loads(result.stdout.strip().splitlines()[-1])
    assert hosts.count(",") == 1
    assert (name, str(port), in_recovery) == (live["NAME"], str(live["PORT"] or 5432), False)
