"""DATABASE_URL into Django's DATABASES entry, libpq's multi-host form included.

A single-host URL (and SQLite) is parsed by dj_database_url, as it always was. A PostgreSQL URL
naming several hosts, each with its own port, as libpq writes it,

    postgres://user:password@db1:5432,db2:5433/b2b?target_session_attrs=read-write&connect_timeout=2

becomes HOST "db1,db2" and PORT "5432,5433", which psycopg hands to libpq as they are: a new
connection tries the hosts in order and, with `target_session_attrs=read-write`, keeps the first
that accepts writes — so after a failover the app finds the promoted server by itself. Query
parameters go into OPTIONS exactly as for a single host (libpq connection parameters:
`target_session_attrs`, `connect_timeout`, `sslmode`, …).

Plain Python on purpose: the settings module calls it before any app is loaded.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import dj_database_url

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "postgis")
DEFAULT_PORT = "5432"


def parse(url: str, **kwargs) -> dict:
    """The DATABASES entry for `url`; `kwargs` as dj_database_url.parse takes them. Raises
    ValueError (dj_database_url.ParseError is one) for a URL that cannot be used."""
    hosts = _host_list(url)
    if hosts is None:
        return dj_database_url.parse(url, **kwargs)
    split = urlsplit(url)
    userinfo = split.netloc.rpartition("@")[0]
    # Everything but the hosts is read exactly as for one host: user, password, name, OPTIONS.
    single = urlunsplit((split.scheme, f"{userinfo}@multi-host" if userinfo else "multi-host", split.path,
                         split.query, split.fragment))
    config = dj_database_url.parse(single, **kwargs)
    names, ports = zip(*hosts, strict=True)
    config["HOST"] = ",".join(names)
    # libpq takes one port per host; a host written without one gets the default.
    config["PORT"] = ",".join(port or DEFAULT_PORT for port in ports) if any(ports) else ""
    return config


def _host_list(url: str) -> list[tuple[str, str]] | None:
    """[(host, port), …] when `url` is a PostgreSQL URL naming more than one host, else None."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in POSTGRES_SCHEMES:
        return None
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    hostlist = netloc.rpartition("@")[2]
    if "," not in hostlist:
        return None
    return [_host_port(item) for item in hostlist.split(",")]


def _host_port(item: str) -> tuple[str, str]:
    if item.startswith("["):  # [IPv6]:port
        host, bracket, port = item[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError(f"bad host {item!r} in the host list")
        port = port[1:]
    else:
        host, _, port = item.partition(":")
    host = unquote(host)
    if not host:
        raise ValueError(f"an empty host in the host list ({item!r})")
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad port {port!r} for host {host!r}")
    return host, port
