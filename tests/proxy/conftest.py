"""Fixtures of the proxy tests: their own cluster, with an echo route per worker."""

from __future__ import annotations

import sys

import cloudpickle
import pytest
from distributed import Client
from django.test import override_settings

from clusterdash.backends import get_backend, reset_backend
from tests.workers.cluster import backend_settings, worker_cluster

#: First of the six ports the cluster of these tests listens on.
BASE_PORT = 8540

# The workers cannot import the test package, so functions travel as code.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def install_echo_routes(dask_worker=None):
    """
    Add ``/echo`` and ``/echo-ws`` to the worker's own Tornado server.

    ``/echo`` returns the request's method, headers and body as JSON and
    sets a cookie, ``/echo-ws`` sends back every websocket message,
    ``/redirect`` redirects to ``/echo`` with an absolute URL and
    ``/path-redirect`` with a path from the server's root.
    """
    import json

    from tornado import web, websocket

    class Echo(web.RequestHandler):
        def _echo(self):
            self.set_header("Set-Cookie", "upstream=1; Path=/")
            self.set_header("X-Upstream", "echo")
            self.set_header("Content-Type", "application/json")
            self.write(
                json.dumps(
                    {
                        "method": self.request.method,
                        "path": self.request.path,
                        "query": self.request.query,
                        "headers": {
                            k.lower(): v for k, v in self.request.headers.items()
                        },
                        "body": self.request.body.decode("latin-1"),
                    }
                )
            )

        get = post = put = delete = patch = _echo

    class AbsoluteRedirect(web.RequestHandler):
        def get(self):
            self.redirect(f"http://{self.request.host}/echo?from=redirect")

    class PathRedirect(web.RequestHandler):
        def get(self):
            self.redirect("/echo?from=path-redirect")

    class EchoSocket(websocket.WebSocketHandler):
        def check_origin(self, origin):
            return True

        def on_message(self, message):
            self.write_message(message, binary=isinstance(message, bytes))

    dask_worker.http_application.add_handlers(
        r".*",
        [
            (r"/echo", Echo),
            (r"/echo-ws", EchoSocket),
            (r"/redirect", AbsoluteRedirect),
            (r"/path-redirect", PathRedirect),
        ],
    )
    return True


@pytest.fixture(scope="module")
def proxy_cluster(backend_on_cluster):
    """Run the cluster, add the echo routes and point the site's backend at it."""
    with worker_cluster(BASE_PORT) as cluster:
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            client.run(install_echo_routes)
        with override_settings(
            CLUSTERDASH_BACKEND=backend_settings(cluster.scheduler_address)
        ):
            reset_backend()
            try:
                snapshot = get_backend().snapshot()
                assert len(snapshot.workers) == 2
                yield cluster
            finally:
                reset_backend()
