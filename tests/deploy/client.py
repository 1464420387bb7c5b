"""A small HTTP client that keeps cookies and never follows redirects."""

from __future__ import annotations

import http.client
import re
import ssl
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from .servers import PASSWORD, USERNAME

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    """One HTTP response with its headers in order."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first header called ``name``, or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_cookies(self) -> dict[str, str]:
        """Return each Set-Cookie header by cookie name."""
        cookies = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                cookies[value.split("=", 1)[0]] = value
        return cookies

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Session:
    """Requests to one ``scheme://host:port`` with a cookie jar."""

    origin: str
    source_address: tuple[str, int] | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.origin)
        if parts.scheme == "https":
            # The tests' certificate is self-signed.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                parts.hostname,
                parts.port,
                timeout=30,
                context=context,
                source_address=self.source_address,
            )
        return http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=30, source_address=self.source_address
        )

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send one request and store the cookies of the response."""
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(
                f"{name}={value}" for name, value in self.cookies.items()
            )
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=all_headers)
            raw = connection.getresponse()
            response = Response(
                url=urljoin(self.origin, path),
                status=raw.status,
                headers=raw.getheaders(),
                body=raw.read(),
            )
        finally:
            connection.close()
        for value in response.set_cookies().values():
            cookie = SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """Send a GET request for ``path``."""
        return self.request("GET", path, headers)

    def login(self, prefix: str, next_path: str, headers=None) -> Response:
        """Log in through the login form under ``prefix``; return the POST."""
        form = self.get(prefix + "accounts/login/", headers)
        assert form.status == 200, form.status
        match = _CSRF_INPUT.search(form.text)
        assert match is not None, "the login page has no CSRF token"
        body = urlencode(
            {
                "csrfmiddlewaretoken": match.group(1),
                "username": USERNAME,
                "password": PASSWORD,
                "next": next_path,
            }
        ).encode()
        return self.request(
            "POST",
            prefix + "accounts/login/",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": self.origin + prefix + "accounts/login/",
                **(headers or {}),
            },
            body,
        )
