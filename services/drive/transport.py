"""HTTP transport and service construction for any Drive endpoint.

The service is built from the Drive v3 discovery document shipped inside googleapiclient (no
network fetch), with ``rootUrl`` and everything derived from it rewritten for a non-Google
endpoint: the ``api_endpoint`` client option alone keeps media uploads on ``https`` and the
original path. Transports come from ``googleapiclient.http.build_http()``, which stops httplib2
from following Drive's ``308 Resume Incomplete`` as a redirect (a bare ``httplib2.Http()`` does,
and breaks resumable uploads), wrapped in google-auth's ``AuthorizedHttp``.

httplib2 objects are not thread-safe: every worker thread gets its own transport, while the
credentials (and so the access token) are shared by the account's threads.

httplib2 reuses a kept-alive connection without asking whether its peer closed it meanwhile
(a front end's idle timeout, a restart): the next request then writes into a dead socket and
fails with a broken pipe, or a reset, after the pause that let the server close it. Before
each request :class:`FreshHttp` closes the connections whose peer has hung up, as urllib3
does: an idle keep-alive connection has nothing to read unless its peer closed it.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from functools import lru_cache
from importlib import resources
from typing import Any

import httplib2
from google.auth.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document

from services.drive import metrics
from services.drive.config import DriveSettings


@lru_cache(maxsize=8)
def discovery_document(root_url: str) -> str:
    """The static Drive v3 discovery document, pointed at ``root_url``."""
    source = resources.files("googleapiclient.discovery_cache") / "documents" / "drive.v3.json"
    doc: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    if root_url != doc["rootUrl"]:
        doc["rootUrl"] = root_url
        doc["mtlsRootUrl"] = root_url
        doc["baseUrl"] = root_url + doc["servicePath"]
    return json.dumps(doc)


def peer_closed(sock: socket.socket) -> bool:
    """Whether an idle connection's socket is readable: its peer closed it (or sent what no
    request asked for, which makes it as unusable)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed or detached under us
        return True
    return bool(readable)


class FreshHttp(httplib2.Http):  # type: ignore[misc]
    """httplib2's transport that never sends on a connection its peer has closed."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        for conn in list(self.connections.values()):
            sock = getattr(conn, "sock", None)
            if sock is not None and peer_closed(sock):
                conn.close()  # the request opens a new one
                metrics.CONNECTIONS_REOPENED.inc()
        return super().request(*args, **kwargs)


def plain_http(settings: DriveSettings) -> httplib2.Http:
    """An unauthenticated transport that leaves 308 answers alone (as googleapiclient's
    ``build_http`` makes it: Drive answers 308 to a resumable upload's chunks)."""
    http = FreshHttp(timeout=settings.http_timeout_seconds)
    http.redirect_codes = http.redirect_codes - {308}
    return http


class ThreadTransports:
    """One authorized transport per worker thread, all closed together."""

    def __init__(self, credentials: Credentials, settings: DriveSettings) -> None:
        self._credentials = credentials
        self._settings = settings
        self._local = threading.local()
        self._all: list[AuthorizedHttp] = []
        self._lock = threading.Lock()
        self._service: Any = None

    def http(self) -> AuthorizedHttp:
        """The calling thread's transport."""
        http: AuthorizedHttp | None = getattr(self._local, "http", None)
        if http is None:
            http = AuthorizedHttp(self._credentials, http=plain_http(self._settings))
            self._local.http = http
            with self._lock:
                self._all.append(http)
        return http

    def service(self) -> Any:
        """The Drive v3 resource, built once; every request made from it is given ``http=``."""
        http = self.http()
        with self._lock:
            if self._service is None:
                self._service = build_from_document(
                    discovery_document(self._settings.root_url), http=http
                )
            return self._service

    def reset(self) -> None:
        """Close the calling thread's connections after a transport failure.

        httplib2 keeps a connection whose request failed midway (its peer may already have
        sent an answer that belongs to no request now); reusing it reads that stale answer
        or a broken pipe. The next request opens a fresh connection instead.
        """
        http: AuthorizedHttp | None = getattr(self._local, "http", None)
        if http is not None:
            http.close()

    def close(self) -> None:
        """Close every thread's connections (unclosed sockets warn at garbage collection)."""
        with self._lock:
            transports, self._all = self._all, []
        for http in transports:
            http.close()
