"""Raw JSON requests through the official client's auth and connection pool, skipping its pydantic models.

Deserializing 50,000 pods into client models costs tens of seconds; the bytes parsed with orjson into
the domain's small models cost well under one.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from meshtui.cluster.errors import ClusterError, Unreachable, from_status

JSON = "application/json"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_ONE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

#: Connect and read timeouts for ordinary requests; a dead connection must never hang a caller.
REQUEST_TIMEOUT = (10.0, 60.0)

Query = list[tuple[str, str | int]]


class RawApi:
    """Requests to one cluster's API server that return parsed JSON or a line stream."""

    def __init__(self, api_client: k8s_client.ApiClient, cluster: str):
        self.api_client = api_client
        self.cluster = cluster

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = JSON,
        what: str = "",
        timeout: tuple[float, float] = REQUEST_TIMEOUT,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        """One request; returns the decoded JSON body, or raises a ClusterError worded for the operator."""
        resp = self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            accept=accept,
            timeout=timeout,
            what=what or f"{method} {path}",
        )
        try:
            data = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc, what or f"{method} {path}") from None
        if resp.status >= 400:
            raise from_status(resp.status, data, cluster=self.cluster, what=what or f"{method} {path}")
        if not data:
            return None
        try:
            return decode(data)
        except orjson.JSONDecodeError:
            raise ClusterError(
                f"The API server of cluster {self.cluster!r} sent a reply that is not JSON for {what or path}."
            ) from None

    def stream(
        self,
        path: str,
        *,
        query: Query,
        accept: str = JSON,
        timeout: tuple[float, float],
        what: str,
    ) -> LineStream:
        """Open a streaming GET (a watch); the caller iterates lines and closes it."""
        resp = self._send(
            "GET", path, query=query, body=None, content_type=None, accept=accept, timeout=timeout, what=what
        )
        if resp.status >= 400:
            data = resp.read()
            raise from_status(resp.status, data, cluster=self.cluster, what=what)
        return LineStream(resp.response, self, what)

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Query | None,
        body: Any,
        content_type: str | None,
        accept: str,
        timeout: tuple[float, float],
        what: str,
    ) -> Any:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            m, url, hdrs, ser_body, _ = self.api_client.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query or []),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            # The client's REST layer JSON-encodes dict and list bodies itself for every JSON and YAML
            # content type; pre-encoded bytes would be encoded again and fail.
            return self.api_client.call_api(m, url, header_params=hdrs, body=ser_body, _request_timeout=timeout)
        except ClusterError:
            raise  # the read-only guard and the credential plugin speak for themselves
        except ApiException as exc:
            raise from_status(exc.status or 0, exc.body, cluster=self.cluster, what=what) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc, what) from None
        except Exception as exc:  # the exec auth plugin and friends raise assorted types
            raise ClusterError(
                f"Cannot reach cluster {self.cluster!r} while {what}: {_first_line(exc)}.",
                cluster=self.cluster,
            ) from None

    def _unreachable(self, exc: BaseException, what: str) -> Unreachable:
        host = self.api_client.configuration.host
        return Unreachable(
            f"The API server of cluster {self.cluster!r} ({host}) is unreachable while {what} "
            f"({_first_line(exc)}); check the network path or VPN, or the kubeconfig's server address.",
            cluster=self.cluster,
        )


class LineStream:
    """Newline-delimited JSON from a streaming response; `close()` from another thread unblocks a read."""

    def __init__(self, response: urllib3.HTTPResponse, api: RawApi, what: str):
        self._resp = response
        self._api = api
        self._what = what
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        buf = b""
        try:
            for chunk in self._resp.stream(65536, decode_content=True):
                if self.closed:
                    return
                buf += chunk
                if b"\n" not in buf:
                    continue
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield line
            if buf.strip() and not self.closed:
                yield buf
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            if self.closed:
                return
            raise self._api._unreachable(exc, self._what) from None

    def close(self) -> None:
        """Shut the socket down (unblocks a reader in another thread) and release the connection."""
        self.closed = True
        try:
            self._resp.shutdown()
        except Exception:
            conn = getattr(self._resp, "connection", None)
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._resp.release_conn()


def _first_line(exc: BaseException) -> str:
    """The innermost cause in a few words: urllib3 wraps "Connection refused" in two layers of reprs."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if ">: " in line:  # "<urllib3.connection.HTTPConnection object at 0x..>: Failed to establish ..."
        line = line.split(">: ", 1)[1]
    line = line.rstrip("')\"")
    return line if len(line) <= 160 else line[:159] + "…"
