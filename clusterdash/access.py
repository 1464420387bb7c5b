"""
The two roles of the site and the checks that enforce them everywhere.

``VIEWER`` is any active logged-in user and may open the live plots, the
JSON endpoints, the info workers and exceptions pages and the worker
pages. ``OPERATOR`` is an active staff user and may also open logs, task
pages, call stacks and the worker proxy, and start the hardware benchmark.
``CLUSTERDASH_LOGIN_REQUIRED=0`` gives anonymous users the viewer role, and
``CLUSTERDASH_STAFF_ONLY=0`` gives the operator role to everyone who has
the viewer role.

Every view, consumer and route uses the helpers below, so the rule lives
in one place:

- ``viewer_page``, ``operator_page``: HTML views. An anonymous user is
  redirected to the login page, and a logged-in user without the role
  gets the 403 page.
- ``viewer_api`` (JSON body) and ``viewer_text`` (plain text body): the
  JSON and text endpoints. They return 401 to an anonymous user and 403
  to a logged-in user without the role.
- ``WebsocketRoleMiddleware``: wraps a websocket route's consumer. It
  closes a rejected handshake before accepting it, with code 4401
  (anonymous) or 4403 (no role), which daphne sends as HTTP 403.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from importlib import import_module

from asgiref.sync import iscoroutinefunction
from channels.auth import get_user
from channels.db import DatabaseSyncToAsync
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

VIEWER = "viewer"
OPERATOR = "operator"

#: Websocket close codes of a rejected handshake, mirroring HTTP 401 and 403.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403

_DENIAL_MESSAGES = {
    VIEWER: "This page needs a logged-in user.",
    OPERATOR: "This page needs a logged-in staff user.",
}


def login_required_setting() -> bool:
    """Return ``CLUSTERDASH_LOGIN_REQUIRED``, on unless a setting turns it off."""
    return getattr(settings, "CLUSTERDASH_LOGIN_REQUIRED", True)


def staff_only_setting() -> bool:
    """Return ``CLUSTERDASH_STAFF_ONLY``, on unless a setting turns it off."""
    return getattr(settings, "CLUSTERDASH_STAFF_ONLY", True)


def has_role(user, role: str) -> bool:
    """Return whether ``user`` (possibly anonymous or ``None``) has ``role``."""
    if role not in _DENIAL_MESSAGES:
        raise ValueError(f"Unknown role {role!r}; use {VIEWER!r} or {OPERATOR!r}.")
    logged_in = bool(user is not None and user.is_authenticated and user.is_active)
    is_viewer = logged_in or not login_required_setting()
    if role == VIEWER or not staff_only_setting():
        return is_viewer
    return logged_in and user.is_staff


def denial_status(user, role: str) -> int | None:
    """
    Return 401 or 403 when ``user`` lacks ``role``, or ``None`` when allowed.

    401 means "log in first": the user is anonymous or inactive. 403 means a
    logged-in user whose account does not have the role.
    """
    if has_role(user, role):
        return None
    if user is None or not user.is_authenticated or not user.is_active:
        return HTTPStatus.UNAUTHORIZED
    return HTTPStatus.FORBIDDEN


def denial_message(role: str) -> str:
    """Return the message that explains why ``role`` is missing."""
    return _DENIAL_MESSAGES[role]


def _page_denial(request: HttpRequest, user, role: str) -> HttpResponse | None:
    status = denial_status(user, role)
    if status is None:
        return None
    if status == HTTPStatus.UNAUTHORIZED:
        return redirect_to_login(request.get_full_path())
    # The 403 handler renders templates/403.html with the site's layout.
    raise PermissionDenied(denial_message(role))


def _api_denial(user, role: str, content_type: str) -> HttpResponse | None:
    status = denial_status(user, role)
    if status is None:
        return None
    message = denial_message(role)
    if content_type == "json":
        body = json.dumps({"error": message})
        return HttpResponse(body, status=status, content_type="application/json")
    return HttpResponse(message, status=status, content_type="text/plain")


def _require(role: str, deny: Callable) -> Callable:
    """Return a decorator that runs ``deny`` before a sync or async view."""

    def decorator(view):
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request, *args, **kwargs):
                user = await request.auser()
                # request.user would load the user again, with a query of its
                # own, when the page's template reads it.
                request.user = user
                denied = deny(request, user, role)
                if denied is not None:
                    return denied
                return await view(request, *args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def sync_wrapper(request, *args, **kwargs):
            denied = deny(request, request.user, role)
            if denied is not None:
                return denied
            return view(request, *args, **kwargs)

        return sync_wrapper

    return decorator


def _json_denial(request, user, role):
    return _api_denial(user, role, "json")


def _text_denial(request, user, role):
    return _api_denial(user, role, "text")


viewer_page = _require(VIEWER, _page_denial)
operator_page = _require(OPERATOR, _page_denial)
viewer_api = _require(VIEWER, _json_denial)
viewer_text = _require(VIEWER, _text_denial)


async def request_has_role(request: HttpRequest, role: str) -> bool:
    """Return whether the user of ``request`` has ``role``, from async code."""
    return has_role(await request.auser(), role)


def websocket_close_code(scope: dict, role: str) -> int | None:
    """Return the close code that rejects the websocket ``scope``, or ``None``."""
    status = denial_status(scope.get("user"), role)
    if status is None:
        return None
    if status == HTTPStatus.UNAUTHORIZED:
        return CLOSE_UNAUTHENTICATED
    return CLOSE_FORBIDDEN


class SessionUserMiddleware:
    """
    ASGI middleware that sets ``scope["session"]`` and ``scope["user"]``.

    It does what Channels' ``SessionMiddleware`` and ``AuthMiddleware`` do
    for a websocket, with two differences. It passes ``send`` through
    unwrapped, because the /eventstream consumer reads daphne's socket
    buffer through it, and no consumer here changes the session, so none
    needs saving. It also runs the user lookup in the thread pool and skips
    it without a session cookie. Channels runs that lookup in the one
    thread Django keeps for thread-sensitive code, behind page renders, and
    daphne drops a handshake that takes longer than its
    ``websocket_handshake_timeout`` (5 s by default in daphne 4.2).
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        engine = import_module(settings.SESSION_ENGINE)
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        scope = dict(scope, session=engine.SessionStore(session_key))
        if scope["session"].session_key is None:
            scope["user"] = AnonymousUser()
        else:
            scope["user"] = await _get_user_in_pool(scope)
        return await self.inner(scope, receive, send)


_get_user_in_pool = DatabaseSyncToAsync(get_user.func, thread_sensitive=False)


def session_auth_stack(inner):
    """Return ``inner`` with ``scope["cookies"]``, the session and the user set."""
    return CookieMiddleware(SessionUserMiddleware(inner))


class WebsocketRoleMiddleware:
    """
    ASGI middleware that rejects a websocket handshake without ``role``.

    It needs ``scope["user"]``, which ``session_auth_stack`` in
    ``clusterdash.asgi`` sets from the session cookie. A rejected socket
    is closed before ``websocket.accept``, so the consumer never runs.
    """

    def __init__(self, app, role: str):
        if role not in _DENIAL_MESSAGES:
            raise ValueError(f"Unknown role {role!r}.")
        self.role = role
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        code = websocket_close_code(scope, self.role)
        if code is None:
            return await self.app(scope, receive, send)
        message = await receive()
        if message["type"] == "websocket.connect":
            logger.info(
                "Rejected websocket %s with code %d", scope.get("path", "?"), code
            )
            await send({"type": "websocket.close", "code": code})
        return None
