"""A git smart-HTTP remote on 127.0.0.1 that demands a token, like github.com does for a push.

Requests are served by the real `git http-backend` (CGI) after the Authorization header is checked
against `Basic base64(x-access-token:<token>)`; every request's Authorization headers are recorded.
"""

from __future__ import annotations

import base64
import os
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.local_http import LocalHttpServer


class GitHttpRemote(LocalHttpServer):
    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.expected = "basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.auth_headers: list[list[str]] = []
        super().__init__(_handler_for(self))

    def repo_url(self, repo: str) -> str:
        return f"{self.url}/{repo}"


def _handler_for(remote: GitHttpRemote) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            headers = self.headers.get_all("Authorization") or []
            remote.auth_headers.append(headers)
            if [h.lower() for h in headers] != [remote.expected.lower()]:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fake"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(remote.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "x-access-token",
                "GIT_CONFIG_NOSYSTEM": "1",
            }
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            fields = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
            status = next((int(v.split()[0]) for k, v in fields if k.lower() == "status"), 200)
            self.send_response(status)
            for key, value in fields:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
