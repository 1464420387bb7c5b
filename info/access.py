"""Access rules for pages that show logs, task data and call stacks."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def staff_required(view):
    """
    Require a logged-in staff user when ``CLUSTERDASH_STAFF_ONLY`` is on.

    Anonymous visitors are redirected to the login page; logged-in users
    without staff rights get 403. Wraps async views only.
    """

    @functools.wraps(view)
    async def wrapper(request, *args, **kwargs):
        if settings.CLUSTERDASH_STAFF_ONLY:
            user = await request.auser()
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (user.is_active and user.is_staff):
                raise PermissionDenied("Only staff users may open this page.")
        return await view(request, *args, **kwargs)

    return wrapper
