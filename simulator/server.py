from __future__ import annotations

import datetime as dt
import html
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from contract import openapi

COUNTRIES = {"AU": ("Australia", "AUS"), "BR": ("Brazil", "BRA"), "CY": ("Cyprus", "CYP"), "DE": ("Germany", "DEU"),
             "ES": ("Spain", "ESP"), "FR": ("France", "FRA"), "GB": ("United Kingdom", "GBR"),
             "IN": ("India", "IND"), "IT": ("Italy", "ITA"), "JP": ("Japan", "JPN"), "MX": ("Mexico", "MEX"),
             "NL": ("Netherlands", "NLD"), "TH": ("Thailand", "THA"), "US": ("United States", "USA")}

# The gateway's contract as this project keeps it: what each endpoint requires of a payload.
_CONTRACT = openapi.load("margin-draft/gateway-api.yaml")


def _required(path: str, method: str = "post") -> tuple[str, ...]:
    return tuple(openapi.request_schema(_CONTRACT, path, method).get("required", ()))


SESSION_REQUIRED = _required("/v1/b2b-gateway/customers/{customer_id}/session")
CUSTOMER_REQUIRED = _required("/v1/b2b-gateway/customers")
API_SESSION_REQUIRED = _required("/v1/b2b-gateway/customers/{customer_id}/sessions")


@dataclass
class Config:
    b2b_public_key_file: Path
    quadcode_private_key_file: Path
    balance_api_url: str
    public_url: str
    issuer: str = ""  # the broker's iss; empty accepts any
    audience: str = "sandbox"


@dataclass
class Fault:
    match: str  # "session", "customers", "block", "allowed-countries" or "*"
    status: int | None = None  # None: answer normally (after the delay)
    times: int = 1
    delay: float = 0.0
    body: dict | None = None
    headers: dict = field(default_factory=dict)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.customers: dict[str, dict] = {}
            self.restricted_countries: set[str] = set()
            self.restricted_currencies: set[str] = set()
            self.blocked: set[str] = set()
            self.faults: list[Fault] = []
            self.sessions: dict[str, dict] = {}
            self.calls: list[dict] = []
            self.balances: dict[str, dict] = {}
            # balance_id -> what a margin account may withdraw now; a balance not named here
            # answers 404, as a gateway without margin trading does.
            self.withdrawable: dict[str, str] = {}
            self.api_sessions: dict[str, dict] = {}
            # Every debit and credit the platform made (answered 201): its operations report.
            self.operations: list[dict] = []

    def take_fault(self, name: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.match in (name, "*") and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


class Handler(BaseHTTPRequestHandler):
    server_version = "gateway-simulator"
    protocol_version = "HTTP/1.1"

    # --- plumbing ---------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.server.state

    @property
    def config(self) -> Config:
        return self.server.config

    def log_message(self, format, *args):  # quiet by default; the calls log tells the story
        pass

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        try:
            value = json.loads(raw or b"{}")
        except ValueError:
            return {"_invalid": True}
        return value if isinstance(value, dict) else {"_invalid": True}

    def _send(self, status: int, body: dict | str | None = None, headers: dict | None = None,
              content_type: str = "application/json"):
        data = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer":
            return False
        key = load_pem_public_key(self.config.b2b_public_key_file.read_bytes())
        try:
            claims = jwt.decode(token, key, algorithms=["ES256"], audience=self.config.audience,
                                options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.InvalidTokenError:
            return False
        if self.config.issuer and claims["iss"] != self.config.issuer:
            return False
        return claims["exp"] - claims["iat"] <= 600

    # --- routing ----------------------------------------------------------------------------
    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def _route(self, method: str):
        path = urlsplit(self.path).path
        self.query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        body = self._body() if method in ("POST", "PUT") else {}
        if path.startswith("/_control/"):
            return self._control(method, path, body)
        if path.startswith("/traderoom/"):
            return self._traderoom(method, path, body)
        gateway = [
            ("POST", r"/v1/b2b-gateway/customers", "customers", self._customers),
            ("POST", r"/v1/b2b-gateway/customers/([^/]+)/session", "session", self._session),
            ("POST", r"/v1/b2b-gateway/customers/([^/]+)/block", "block", self._block),
            ("POST", r"/v1/b2b-gateway/customers/([^/]+)/sessions", "api_session", self._api_session),
            ("GET", r"/v1/b2b-gateway/allowed-countries", "allowed-countries", self._allowed_countries),
            ("PUT", r"/v1/b2b-gateway/customers/([^/]+)/balances/([^/]+)", "balance_push", self._balance_push),
            ("GET", r"/v1/b2b-gateway/customers/([^/]+)/balances/([^/]+)/available-withdrawal-amount",
             "available_withdrawal", self._available_withdrawal),
        ]
        for route_method, pattern, name, handler in gateway:
            match = re.fullmatch(pattern, path)
            if match and method == route_method:
                with self.state.lock:
                    self.state.calls.append({"name": name, "method": method, "path": path, "body": body,
                                             "authorization": self.headers.get("Authorization", "")})
                fault = self.state.take_fault(name)
                if fault and fault.delay:
                    time.sleep(fault.delay)
                if fault and fault.status:
                    return self._send(fault.status, fault.body, fault.headers)
                if not self._authorized():
                    return self._send(401, {"error": "unauthorized", "message": "Invalid token."})
                return handler(body, *match.groups())
        self._send(404, {"error": "not_found"})

    # --- the gateway --------------------------------------------------------------------------
    def _missing(self, body: dict, required) -> dict:
        return {name: {"code": "is_required", "message": f"{name} is required"} for name in required
                if not isinstance(body.get(name), str) or not body.get(name)}

    def _customers(self, body):
        missing = self._missing(body, CUSTOMER_REQUIRED)
        if missing:
            return self._send(422, missing)
        if body["country_code"] in self.state.restricted_countries:
            return self._send(451, {"error": "customer_country_restriction",
                                    "message": "The customer's current country is not allowed."})
        with self.state.lock:
            if body["customer_id"] in self.state.customers:
                return self._send(409, {"error": "customer_exists"})
            self.state.customers[body["customer_id"]] = body
        self._send(201)

    def _session(self, body, customer_id):
        missing = self._missing(body, SESSION_REQUIRED)
        if missing:
            return self._send(422, missing)
        if customer_id not in self.state.customers:
            return self._send(404, {"error": "customer_not_found"})
        if customer_id in self.state.blocked:
            return self._send(418, {"error": "customer_blocked"})
        if body["country_code"] in self.state.restricted_countries:
            return self._send(451, {"error": "customer_country_restriction",
                                    "message": "The customer's current country is not allowed."})
        if body["balance_currency_code"] in self.state.restricted_currencies:
            return self._send(451, {"error": "customer_currency_restriction",
                                    "message": "The customer's balance currency is not allowed."})
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.sessions[token] = {"customer_id": customer_id, "balance_id": body["balance_id"],
                                          "currency": body["balance_currency_code"], "positions": [],
                                          "message": ""}
        self._send(201, {"url": f"{self.config.public_url}/traderoom/{token}"})

    def _api_session(self, body, customer_id):
        missing = {name: {"code": "is_required", "message": f"{name} is required"} for name in API_SESSION_REQUIRED
                   if body.get(name) in (None, "") or (name == "platform_id") != isinstance(body.get(name), int)}
        if missing:
            return self._send(422, missing)
        if customer_id not in self.state.customers:
            return self._send(404, {"error": "customer_not_found"})
        if body["country_code"] in self.state.restricted_countries:
            return self._send(451, {"error": "customer_country_restriction",
                                    "message": "The customer's current country is not allowed."})
        ssid = secrets.token_hex(16)
        with self.state.lock:
            self.state.api_sessions[ssid] = {"customer_id": customer_id, **body}
        self._send(201, {"ssid": ssid})

    def _block(self, body, customer_id):
        if customer_id not in self.state.customers:
            return self._send(404, {"error": "customer_not_found"})
        with self.state.lock:
            self.state.blocked.add(customer_id)
        self._send(200)

    def _balance_push(self, body, customer_id, balance_id):
        if not (isinstance(body.get("amount"), str) and isinstance(body.get("amount_currency_code"), str)
                and isinstance(body.get("updated_at"), int)):
            return self._send(400, {"error": "invalid_request"})
        with self.state.lock:
            known = self.state.balances.get(balance_id)
            if known is None or body["updated_at"] > known["updated_at"]:  # the newest state wins
                self.state.balances[balance_id] = {"customer_id": customer_id, **body}
        self._send(200)

    def _available_withdrawal(self, body, customer_id, balance_id):
        amount = self.state.withdrawable.get(balance_id)
        if amount is None:
            return self._send(404, {"error": "not_found"})
        self._send(200, {"amount": amount})

    def _allowed_countries(self, body):
        countries = [{"name": name, "short_code": code, "iso_code": iso} for code, (name, iso) in COUNTRIES.items()
                     if code not in self.state.restricted_countries]
        self._send(200, {"countries": countries})

    # --- control (tests and the demo) ---------------------------------------------------------
    def _control(self, method, path, body):
        state = self.state
        if path == "/_control/reset" and method == "POST":
            state.reset()
        elif path == "/_control/state" and method == "POST":
            with state.lock:
                for name in ("restricted_countries", "restricted_currencies", "blocked"):
                    if name in body:
                        setattr(state, name, set(body[name]))
                if "withdrawable" in body:
                    state.withdrawable = {str(k): str(v) for k, v in body["withdrawable"].items()}
        elif path == "/_control/faults" and method == "POST":
            with state.lock:
                state.faults.extend(Fault(**fault) for fault in body.get("faults", []))
        elif path == "/_control/report" and method == "GET":
            return self._send(200, self._report(), content_type="text/csv; charset=utf-8")
        elif path == "/_control/trade" and method == "POST":
            return self._send(200, self._scripted_trade(body), content_type="text/plain; charset=utf-8")
        elif path == "/_control/calls" and method == "GET":
            with state.lock:
                return self._send(200, {"calls": state.calls, "customers": state.customers,
                                        "blocked": sorted(state.blocked), "balances": state.balances,
                                        "api_sessions": state.api_sessions})
        else:
            return self._send(404, {"error": "not_found"})
        self._send(200, {"ok": True})

    # --- the stand-in trading room ------------------------------------------------------------
    def _quadcode_token(self) -> str:
        key = load_pem_private_key(self.config.quadcode_private_key_file.read_bytes(), password=None)
        now = int(time.time())
        return jwt.encode({"iss": "qc", "aud": self.config.audience, "iat": now, "exp": now + 60}, key,
                          algorithm="ES256")

    def _balance_api(self, method, session, operation=None, payload=None):
        url = f"{self.config.balance_api_url}/v1/customers/{session['customer_id']}/balances/{session['balance_id']}"
        if operation:
            url += f"/{operation}"
        response = httpx.request(method, url, json=payload, timeout=10,
                                 headers={"Authorization": f"Bearer {self._quadcode_token()}"})
        answer = response.json()
        if operation and response.status_code == 201:
            self._record(operation, payload, answer)
        return response.status_code, answer

    def _record(self, operation: str, payload: dict, answer: dict) -> None:
        with self.state.lock:
            if any(op["request_id"] == payload["request_id"] for op in self.state.operations):
                return  # a replay: the platform made one operation
            self.state.operations.append({
                "request_id": payload["request_id"], "customer_id": answer["customer_id"],
                "balance_id": answer["balance_id"], "kind": operation, "amount": answer["amount"],
                "currency_code": answer["currency_code"],
                "realized_amount": answer.get("realized_amount", "") if operation == "debit" else "",
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")})

    def _report(self) -> str:
        """The platform's operations report, as CSV, optionally for created_at in [from, to]."""
        start, end = self.query.get("from", ""), self.query.get("to", "")
        lines = ["request_id,customer_id,balance_id,kind,amount,currency_code,realized_amount,created_at"]
        with self.state.lock:
            for op in self.state.operations:
                if (not start or op["created_at"] >= start) and (not end or op["created_at"] <= end):
                    lines.append(",".join(op[name] for name in ("request_id", "customer_id", "balance_id", "kind",
                                                                "amount", "currency_code", "realized_amount",
                                                                "created_at")))
        return "\n".join(lines) + "\n"

    def _scripted_trade(self, body: dict) -> str:
        """Quadcode's servers opening and closing one option on a balance (the demo's script): the
        balance read, a debit, the same debit again (a retry), a credit. Returns the transcript."""
        session = {"customer_id": body.get("customer_id", ""), "balance_id": body.get("balance_id", "")}
        stake, payout = body.get("stake", "10.00"), body.get("payout", "18.50")
        lines = []

        def call(method, operation=None, payload=None):
            lines.append(f"-> {method} customers/{session['customer_id']}/balances/{session['balance_id']}"
                         + (f"/{operation}" if operation else "") + (f" {json.dumps(payload)}" if payload else ""))
            status, answer = self._balance_api(method, session, operation, payload)
            lines.append(f"<- {status} {json.dumps(answer)}")
            return status, answer

        status, balance = call("GET")
        if status == 200:
            debit = {"request_id": f"open-{uuid.uuid4()}", "amount": stake, "currency_code": balance["currency_code"],
                     "comment": "option opened"}
            status, opened = call("POST", "debit", debit)
            again, replayed = call("POST", "debit", debit)
            if (again, replayed) == (status, opened):
                lines.append("   (the same debit sent again got the same answer and moved nothing)")
            if status == 201:
                status, closed = call("POST", "credit", {"request_id": f"close-{uuid.uuid4()}", "amount": payout,
                                                         "currency_code": balance["currency_code"],
                                                         "comment": "option closed with a profit"})
                if status == 201:
                    lines.append(f"trade done: {balance['amount']} - {opened['amount']} + {closed['amount']} = "
                                 f"{closed['balance_current_amount']} {balance['currency_code']}")
        return "\n".join(lines) + "\n"

    def _traderoom(self, method, path, body):
        parts = path.strip("/").split("/")
        session = self.state.sessions.get(parts[1]) if len(parts) >= 2 else None
        if session is None:
            return self._send(404, "<p>Unknown or expired session.</p>", content_type="text/html; charset=utf-8")
        base = f"/traderoom/{parts[1]}"
        if method == "POST" and parts[2:] == ["open"]:
            stake = body.get("stake", "10.00")
            status, answer = self._balance_api("POST", session, "debit", {
                "request_id": f"open-{uuid.uuid4()}", "amount": stake, "currency_code": session["currency"],
                "comment": "option opened"})
            if status == 201:
                session["positions"].append(stake)
                session["message"] = f"Option opened: {stake} {session['currency']} debited."
            else:
                session["message"] = f"Option refused ({status}): {answer.get('message', '')}"
            return self._send(303, None, {"Location": base})
        if method == "POST" and parts[2:] == ["close"]:
            if not session["positions"]:
                session["message"] = "No open option."
                return self._send(303, None, {"Location": base})
            stake = Decimal(session["positions"].pop(0))
            payout = f"{stake * Decimal('1.85'):.2f}"
            status, answer = self._balance_api("POST", session, "credit", {
                "request_id": f"close-{uuid.uuid4()}", "amount": payout, "currency_code": session["currency"],
                "comment": "option closed with a profit"})
            session["message"] = (f"Option closed with a profit: {payout} {session['currency']} credited."
                                  if status == 201 else f"Settlement failed ({status}).")
            return self._send(303, None, {"Location": base})
        status, balance = self._balance_api("GET", session)
        amount = balance.get("amount", "?") if status == 200 else f"unavailable ({status})"
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Trading room (simulator)</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;background:#0f1b26;color:#e8eef3}}
button{{font:inherit;padding:.6rem 1rem;margin:.3rem .3rem 0 0;border-radius:.4rem;border:0;cursor:pointer}}
.open{{background:#2e9e5b;color:#fff}}.close{{background:#d9a21b;color:#111}}</style></head><body>
<h1>Trading room <small>(gateway simulator)</small></h1>
<p>Balance <strong id="balance-id">{html.escape(session['balance_id'])}</strong>:
<strong id="balance-amount">{html.escape(amount)}</strong> {html.escape(session['currency'])}</p>
<p id="positions">Open options: {len(session['positions'])}</p>
<p id="message" role="status">{html.escape(session['message'])}</p>
<form method="post" action="{base}/open"><input type="hidden" name="stake" value="10.00">
<button class="open" type="submit">Open option (10.00)</button></form>
<form method="post" action="{base}/close"><button class="close" type="submit">Close option with profit</button></form>
</body></html>"""
        self._send(200, page, content_type="text/html; charset=utf-8")


def make_server(config: Config, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.state = State()
    server.config = config
    return server
