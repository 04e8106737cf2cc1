"""Raw JSON requests through the official client's auth and connection pool, skipping its pydantic models.

Deserializing 50,000 pods into client models costs tens of seconds; the bytes parsed with orjson into
the domain's small models cost well under one.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from meshtui.cluster.errors import (
    ClusterError,
    NoAnswer,
    ResourceVersionTooLarge,
    ServerError,
    Unreachable,
    from_status,
)

JSON = "application/json"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_ONE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

Query = list[tuple[str, str | int]]

#: Backoff between retries of a failed read when the server names no Retry-After.
_BACKOFF_INITIAL_S = 0.5
_BACKOFF_MAX_S = 8.0


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How meshtui talks to one API server: timeouts, and whether to ask for compressed answers."""

    #: Seconds to establish a connection.
    connect_timeout_s: float = 10.0
    #: Seconds a request may wait for the next bytes of its answer (watches wait their timeoutSeconds more).
    read_timeout_s: float = 30.0
    #: Seconds a read (GET) keeps retrying answers of 429 and 5xx, honouring Retry-After, as client-go's
    #: REST client does; writes are never retried here.
    retry_budget_s: float = 60.0
    #: Ask for gzip (the API server compresses answers over 128 KiB when asked); kubectl's
    #: `--disable-compression` and a kubeconfig cluster's `disable-compression: true` turn it off.
    compression: bool = True

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) as urllib3 takes it."""
        return (self.connect_timeout_s, self.read_timeout_s)


_OPTIONS: weakref.WeakKeyDictionary[Any, ClientOptions] = weakref.WeakKeyDictionary()
_DEFAULT = [ClientOptions()]


def set_default_options(options: ClientOptions) -> None:
    """The options of every API client that has none of its own (the command line sets them once)."""
    _DEFAULT[0] = options


def default_options() -> ClientOptions:
    """The options an API client without its own uses."""
    return _DEFAULT[0]


def set_options(api_client: k8s_client.ApiClient, options: ClientOptions) -> None:
    """Attach options to an API client; every RawApi over it uses them."""
    _OPTIONS[api_client] = options


def options_for(api_client: k8s_client.ApiClient) -> ClientOptions:
    """The options attached to an API client, or the defaults."""
    return _OPTIONS.get(api_client) or _DEFAULT[0]


#: Connect and read timeouts for ordinary requests; a dead connection must never hang a caller.
REQUEST_TIMEOUT = ClientOptions().timeout


class RawApi:
    """Requests to one cluster's API server that return parsed JSON or a line stream."""

    def __init__(self, api_client: k8s_client.ApiClient, cluster: str):
        self.api_client = api_client
        self.cluster = cluster
        self.options = options_for(api_client)

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
        timeout: tuple[float, float] | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
        cancel: threading.Event | None = None,
    ) -> Any:
        """One request; returns the decoded JSON body, or raises a ClusterError worded for the operator.

        A GET answered with 429 or 5xx is sent again after the server's Retry-After (else a jittered
        backoff) until `ClientOptions.retry_budget_s` is spent or `cancel` is set.
        """
        if method != "GET":
            return self._request_once(method, path, query, body, content_type, accept, what, timeout, decode)
        return self._retrying(
            lambda: self._request_once(method, path, query, body, content_type, accept, what, timeout, decode),
            cancel,
        )

    def open_page(
        self,
        path: str,
        *,
        query: Query,
        accept: str = JSON,
        what: str = "",
        timeout: tuple[float, float] | None = None,
        cancel: threading.Event | None = None,
    ) -> PageReply:
        """A list GET whose answer started (status and headers), retried as `request` retries a GET; the
        caller reads its head, then its body, and closes it."""
        reply: PageReply = self._retrying(lambda: self._open_once(path, query, accept, what, timeout), cancel)
        return reply

    def _retrying(self, attempt: Callable[[], Any], cancel: threading.Event | None) -> Any:
        give_up_at = time.monotonic() + self.options.retry_budget_s
        backoff = _BACKOFF_INITIAL_S
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except ResourceVersionTooLarge:
                raise  # the caller decides: a reflector lists again
            except ServerError as exc:
                delay = exc.retry_after if exc.retry_after is not None else backoff * (0.5 + random.random())
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                if time.monotonic() + delay > give_up_at or (cancel is not None and cancel.is_set()):
                    if attempts > 1:
                        exc.message += f" It failed {attempts} times in a row; try again later."
                    raise
                if cancel is not None:
                    if cancel.wait(delay):
                        raise
                else:
                    time.sleep(delay)

    def _open_once(
        self, path: str, query: Query, accept: str, what: str, timeout: tuple[float, float] | None
    ) -> PageReply:
        timeout = timeout or self.options.timeout
        what = what or f"GET {path}"
        resp = self._send(
            "GET", path, query=query, body=None, content_type=None, accept=accept, timeout=timeout, what=what
        )
        if resp.status >= 400:
            data = self._read_all(resp.response, what, timeout)
            raise from_status(
                resp.status, data, cluster=self.cluster, what=what, retry_after=resp.headers.get("Retry-After")
            )
        return PageReply(self, resp.response, what, timeout)

    def _read_all(self, response: urllib3.HTTPResponse, what: str, timeout: tuple[float, float]) -> bytes:
        return _Body(response, self, what, timeout).read()

    def _request_once(
        self,
        method: str,
        path: str,
        query: Query | None,
        body: Any,
        content_type: str | None,
        accept: str,
        what: str,
        timeout: tuple[float, float] | None,
        decode: Callable[[bytes], Any],
    ) -> Any:
        timeout = timeout or self.options.timeout
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
        data = self._read_all(resp.response, what or f"{method} {path}", timeout)
        if resp.status >= 400:
            raise from_status(
                resp.status,
                data,
                cluster=self.cluster,
                what=what or f"{method} {path}",
                retry_after=resp.headers.get("Retry-After"),
            )
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
            raise from_status(
                resp.status, data, cluster=self.cluster, what=what, retry_after=resp.headers.get("Retry-After")
            )
        return LineStream(resp.response, self, what, timeout)

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
        if self.options.compression:
            # urllib3 inflates the answer as it reads it (Content-Encoding: gzip), in stream() chunk by chunk.
            headers["Accept-Encoding"] = "gzip"
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
            header = exc.headers.get("Retry-After") if exc.headers else None
            raise from_status(exc.status or 0, exc.body, cluster=self.cluster, what=what, retry_after=header) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc, what, timeout) from None
        except Exception as exc:  # the exec auth plugin and friends raise assorted types
            raise ClusterError(
                f"Cannot reach cluster {self.cluster!r} while {what}: {_first_line(exc)}.",
                cluster=self.cluster,
            ) from None

    def _unreachable(self, exc: BaseException, what: str, timeout: tuple[float, float]) -> Unreachable:
        host = self.api_client.configuration.host
        timed_out = _timed_out(exc)
        if timed_out == "connect":
            return NoAnswer(
                f"Cannot connect to the API server of cluster {self.cluster!r} ({host}): no connection in "
                f"{timeout[0]:g} s while {what}; check the kubeconfig's server address and the network path or VPN "
                "(a firewall that drops packets looks like this).",
                cluster=self.cluster,
            )
        if timed_out is not None:
            seconds = timeout[1]
            return NoAnswer(
                f"No answer from the API server of cluster {self.cluster!r} ({host}) in {seconds:g} s while {what}; "
                "check that the server is healthy and the network path or VPN, or raise --request-timeout.",
                cluster=self.cluster,
            )
        return Unreachable(
            f"The API server of cluster {self.cluster!r} ({host}) is unreachable while {what} "
            f"({_first_line(exc)}); check the network path or VPN, or the kubeconfig's server address.",
            cluster=self.cluster,
        )


class LineStream:
    """Newline-delimited JSON from a streaming response; `close()` from another thread unblocks a read."""

    def __init__(self, response: urllib3.HTTPResponse, api: RawApi, what: str, timeout: tuple[float, float]):
        self._resp = response
        self._api = api
        self._what = what
        self._timeout = timeout
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
            raise self._api._unreachable(exc, self._what, self._timeout) from None

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


#: Compressed bytes read from the socket at a time.
_READ_CHUNK = 1 << 16
#: The most a piece of compressed input may inflate to at once: bounds what a hostile chunk allocates beyond
#: the answer itself.
_INFLATE_CHUNK = 1 << 20
#: How much of a list's answer is read for its head before giving up on finding the items' start there.
_HEAD_LIMIT = 1 << 16


class _Body:
    """A reply's body read chunk by chunk, a gzipped one inflated as its chunks arrive.

    Inflating into one growing buffer holds the page once (urllib3 would hold it twice, and inflate only
    after the last byte arrived); errors become the operator's sentences (unreachable, does not inflate).
    """

    def __init__(self, response: urllib3.HTTPResponse, api: RawApi, what: str, timeout: tuple[float, float]) -> None:
        self._api = api
        self._what = what
        self._timeout = timeout
        self.response = response
        gzipped = response.headers.get("Content-Encoding", "").strip().lower() == "gzip"
        self._inflater: Any = zlib.decompressobj(31) if gzipped else None
        self._chunks: Iterator[bytes] = response.stream(_READ_CHUNK, decode_content=False)
        self.data = bytearray()
        self.ended = False

    def more(self) -> bool:
        """Read (and inflate) the next chunk into `data`; False once the body ended."""
        if self.ended:
            return False
        try:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._finish()
                return False
            self._take(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._api._unreachable(exc, self._what, self._timeout) from None
        except zlib.error as exc:
            raise ClusterError(
                f"The API server of cluster {self._api.cluster!r} sent a compressed reply that does not inflate "
                f"for {self._what} ({exc}); try --disable-compression.",
                cluster=self._api.cluster,
            ) from None
        return True

    def read(self) -> bytes:
        """The whole body (the rest of it read now)."""
        while self.more():
            pass
        # bytes-like for every decoder meshtui uses (orjson, msgspec, bytes.find); copying it would double it.
        return self.data  # type: ignore[return-value]

    def _take(self, chunk: bytes) -> None:
        inflater = self._inflater
        if inflater is None:
            self.data += chunk
            return
        pending = chunk
        while pending:
            if inflater.eof:
                # Another gzip member follows (rare, but valid).
                inflater = self._inflater = zlib.decompressobj(31)
            self.data += inflater.decompress(pending, _INFLATE_CHUNK)
            pending = inflater.unconsumed_tail or inflater.unused_data

    def _finish(self) -> None:
        self.ended = True
        inflater = self._inflater
        if inflater is None:
            return
        if not inflater.eof:
            self.data += inflater.flush()  # what the last bounded call held back
        if not inflater.eof:
            raise zlib.error("the compressed reply ends early")


class PageReply:
    """A list page's answer being read: its head first (where the continue token is), then the rest.

    Knowing the token from the head lets the next page be asked for while this one's body still arrives,
    so the server's time for the next page overlaps this page's transfer.
    """

    def __init__(self, api: RawApi, response: urllib3.HTTPResponse, what: str, timeout: tuple[float, float]) -> None:
        self._body = _Body(response, api, what, timeout)

    def head(self, marker: bytes) -> bytes | None:
        """The body's bytes up to `marker` (read as far as needed), or None when it is not in the first 64 KiB."""
        body = self._body
        while True:
            at = body.data.find(marker)
            if at >= 0:
                return bytes(body.data[:at])
            if len(body.data) >= _HEAD_LIMIT or not body.more():
                return None

    def read(self) -> bytes:
        """The whole body, inflated (the caller still closes the reply)."""
        return self._body.read()

    def close(self) -> None:
        """Release the connection; one with an unread rest is closed (the rest would be read as the next answer)."""
        response = self._body.response
        with contextlib.suppress(Exception):
            if not self._body.ended:
                response.close()
            response.release_conn()


def _timed_out(exc: BaseException) -> str | None:
    """ "connect" or "read" when the exception (or the one it wraps) is a timeout, else None."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return None  # refused or unresolvable: urllib3 derives it from ConnectTimeoutError
        if isinstance(current, urllib3.exceptions.ConnectTimeoutError):
            return "connect"
        if isinstance(current, (urllib3.exceptions.ReadTimeoutError, TimeoutError, socket.timeout)):
            return "read"
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else current.__context__
        seen += 1
    return None


def _first_line(exc: BaseException) -> str:
    """The innermost cause in a few words: urllib3 wraps "Connection refused" in two layers of reprs."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if ">: " in line:  # "<urllib3.connection.HTTPConnection object at 0x..>: Failed to establish ..."
        line = line.split(">: ", 1)[1]
    # "HTTPConnection(host='h', port=9): Failed to establish a new connection: [Errno 111] Connection refused":
    # the host is in the sentence already; the operator needs the cause.
    line = re.sub(r"^HTTPS?Connection\(host=[^)]*\): ", "", line)
    line = line.removeprefix("Failed to establish a new connection: ")
    line = re.sub(r"\[Errno -?\d+\] ", "", line)
    line = line.rstrip("'\"")
    while line.endswith(")") and line.count(")") > line.count("("):  # the tail of a wrapping repr
        line = line[:-1].rstrip("'\"")
    return line if len(line) <= 160 else line[:159] + "…"
