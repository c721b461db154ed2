"""A stand-in for devstack's web + auth API, for working on web/ without the whole stack.

Not a test and not collected: `python -m tests.browser.stub_server [port]` serves web/ at `/` (with the
index.html fallback devstack has for unknown non-file paths) and fakes the auth routes the shell uses
(`POST /api/auth/login`, `GET /api/auth/me`, `GET /api/auth/accounts`) with the real error shape,
lock-out and paging. The browser tests themselves run against devstack.

Accounts: admin@ates.test / admin-pass (admin), worker@ates.test / worker-pass (worker), plus 60
generated workers so the accounts list has a second page.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WEB = Path(__file__).resolve().parents[2] / "web"
TOKEN_TTL = 15 * 60


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class StubState:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[float]] = field(default_factory=dict)
    locked_until: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def seeded(cls) -> StubState:
        state = cls()
        state.add("admin@ates.test", "Ada Admin", ["admin"], "admin-pass")
        state.add("worker@ates.test", "Walter Worker", ["worker"], "worker-pass")
        for n in range(60):
            state.add(f"popug{n:02d}@ates.test", f"Popug {n:02d}", ["worker"], None)
        return state

    def add(self, email: str, name: str, roles: list[str], password: str | None) -> None:
        self.accounts.append(
            {
                "account_id": str(uuid.uuid4()),
                "employee_id": None,
                "email": email,
                "name": name,
                "roles": roles,
                "active": True,
                "department_id": None,
            }
        )
        self.accounts[-1]["employee_id"] = self.accounts[-1]["account_id"]
        if password:
            self.passwords[email] = password

    def issue(self, account: dict[str, Any]) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "stub"}
        claims = {"sub": account["account_id"], "roles": account["roles"], "iat": now, "exp": now + TOKEN_TTL}
        token = f"{_b64(header)}.{_b64(claims)}.c3R1Yg"
        self.tokens[token] = account["account_id"]
        return token


class Handler(SimpleHTTPRequestHandler):
    state: StubState

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(WEB), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ---- plumbing ----------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": {"code": code, "message": message}}, headers)

    def _caller(self) -> dict[str, Any] | None:
        auth = self.headers.get("Authorization", "")
        account_id = self.state.tokens.get(auth.removeprefix("Bearer ").strip())
        return next((a for a in self.state.accounts if a["account_id"] == account_id), None)

    # ---- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/api/"):
            self._api_get(url.path, parse_qs(url.query))
            return
        target = (WEB / url.path.lstrip("/")).resolve()
        is_file_path = "." in url.path.rsplit("/", 1)[-1]
        if not is_file_path and not (target.is_file() and WEB in target.parents):
            self.path = "/index.html"
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path != "/api/auth/login":
            self._error(404, "not_found", f"no route POST {url.path}")
            return
        try:
            body = json.loads(raw or b"{}")
            email = str(body["email"]).strip().lower()
            password = str(body["password"])
        except (ValueError, KeyError, TypeError):
            self._error(422, "validation_error", "email and password are required")
            return
        now = time.time()
        with self.state.lock:
            locked = self.state.locked_until.get(email, 0) - now
            if locked > 0:
                self._error(
                    429,
                    "locked",
                    f"too many failed sign-ins for this email; try again in {-(-int(locked) // 60)} minutes",
                    {"Retry-After": str(int(locked))},
                )
                return
            account = next((a for a in self.state.accounts if a["email"] == email), None)
            if not account or self.state.passwords.get(email) != password:
                recent = [t for t in self.state.failures.get(email, []) if t > now - 900] + [now]
                self.state.failures[email] = recent
                if len(recent) >= 5:
                    self.state.locked_until[email] = now + 900
                    self.state.failures[email] = []
                self._error(401, "invalid_credentials", "wrong email or password")
                return
            self.state.failures.pop(email, None)
            token = self.state.issue(account)
        self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL})

    def _api_get(self, path: str, query: dict[str, list[str]]) -> None:
        who = self._caller()
        if who is None:
            self._error(401, "unauthorized", "a valid bearer token is required")
            return
        if path == "/api/auth/me":
            self._json(200, who)
        elif path == "/api/auth/accounts":
            if "admin" not in who["roles"]:
                self._error(403, "forbidden", "this needs one of the roles: admin")
                return
            limit = int(query.get("limit", ["50"])[0])
            start = int(query.get("cursor", ["0"])[0] or 0)
            page = self.state.accounts[start : start + limit]
            after = start + limit
            now = time.time()
            items = []
            for account in page:
                until = self.state.locked_until.get(account["email"], 0)
                shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)) if until > now else None
                items.append({**account, "locked_until": shown})
            self._json(200, {"items": items, "next_cursor": str(after) if after < len(self.state.accounts) else None})
        else:
            self._error(HTTPStatus.NOT_FOUND, "not_found", f"no route GET {path}")


def serve(port: int = 0) -> ThreadingHTTPServer:
    """Start the stub in a daemon thread; the caller reads `server.server_address` and calls `shutdown()`."""
    handler = type("StubHandler", (Handler,), {"state": StubState.seeded()})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    running = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"stub aTES at http://127.0.0.1:{running.server_address[1]}/  (Ctrl+C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        running.shutdown()
