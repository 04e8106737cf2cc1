"""`SimCluster`: the simulated API server running on its own thread, for the demo, `meshtui sim` and tests.

The store and the HTTP server live on one asyncio loop in a background thread; other threads reach
the store only through `call`, which runs a function on that loop, so nothing needs a lock.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import os
import secrets
import socket
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

import yaml
from aiohttp import web

from meshtui.sim import admission
from meshtui.sim.faults import Faults
from meshtui.sim.server import ApiServer
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

T = TypeVar("T")
NAME = "meshtui-sim"


class Controllers(Protocol):
    """What a controllers factory returns: started after setup, stopped before the server goes down."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


ControllersFactory = Callable[[Store, SimSettings, asyncio.AbstractEventLoop], Controllers]


class SimCluster:
    """A running simulated cluster: `start()`/`stop()` or use it as a context manager; `url` once started."""

    def __init__(
        self,
        settings: SimSettings | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        setup: Callable[[Store], None] | None = None,
        controllers_factory: ControllersFactory | None = None,
        request_log_cap: int = 10_000,
        token: str | None = None,
    ):
        self.settings = settings or SimSettings()
        #: The bearer token every request must carry (a new one per run; only the kubeconfig's holder has it).
        self.token = token or secrets.token_urlsafe(32)
        self.host = host
        self.port = port
        self._setup = setup
        self._controllers_factory = controllers_factory
        self.controllers: Controllers | None = None
        self.store: Store | None = None
        self.faults = Faults(self.call, log_cap=request_log_cap)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None
        self._churns: list[Any] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (`http://127.0.0.1:<port>`)."""
        if self._thread is None:
            raise RuntimeError("the simulated cluster is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimCluster:
        """Start the loop thread, run `setup`, start the controllers and serve; returns once serving."""
        if self._thread is not None:
            raise RuntimeError("the simulated cluster is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(sock, ready), name=f"{NAME}:{self.port}", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=60)
        except BaseException:
            self._thread.join(timeout=10)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Stop the controllers and the server, end the loop and join its thread (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self._stopped is not None and thread.is_alive():
            loop.call_soon_threadsafe(self._stopped.set)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, sock: socket.socket, ready: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(sock, ready))
        except BaseException as exc:  # reported to start() through the future
            if not ready.done():
                ready.set_exception(exc)
        finally:
            sock.close()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, sock: socket.socket, ready: Future[None]) -> None:
        self._stopped = asyncio.Event()
        self._loop_thread = threading.get_ident()
        store = Store(history_window=self.settings.history_window)
        self.store = store
        # Injection is part of the API server's admission chain, present whatever the scenario.
        admission.install(store)
        if self._setup is not None:
            self._setup(store)
        server = ApiServer(store, self.settings, self.faults, token=self.token)
        self._runner = web.AppRunner(
            server.make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        try:
            await web.SockSite(self._runner, sock).start()
            if self._controllers_factory is not None:
                self.controllers = self._controllers_factory(store, self.settings, asyncio.get_running_loop())
                self.controllers.start()
            ready.set_result(None)
            await self._stopped.wait()
        finally:
            for churn in self._churns:
                await churn.stop()
            if self.controllers is not None:
                self.controllers.stop()
            store.close_all_watches()
            await self._runner.cleanup()

    # -- access from other threads ---------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the loop thread and return its result (awaited when it is a coroutine)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the simulated cluster is not running")
        if threading.get_ident() == getattr(self, "_loop_thread", None):
            return fn(*args)

        async def run() -> T:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    def start_churn(self, rate_per_second: float, *, mode: str = "annotation") -> Any:
        """Start modifying existing pods at a fixed rate (load tests); they stop with the cluster."""
        from meshtui.sim.controllers.churn import PodChurn

        def start() -> PodChurn:
            churn = PodChurn(self.store, rate_per_second, mode=mode)  # type: ignore[arg-type]
            churn.start()
            self._churns.append(churn)
            return churn

        return self.call(start)

    def kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig whose current context `meshtui-sim` points at this server; returns the path.

        It holds the run's bearer token, so it is written readable by its owner only (0600).
        """
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": NAME, "cluster": {"server": self.url}}],
            "users": [{"name": NAME, "user": {"token": self.token}}],
            "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME}}],
            "current-context": NAME,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, yaml.safe_dump(config, sort_keys=False))
        return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), also when it already existed with wider permissions.

    It must be a regular file of this user and not a symlink (a path in /tmp may have been prepared by
    someone else to receive the token); it is emptied only once that is checked.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise PermissionError(errno.EPERM, "it is not a regular file of this user", str(path))
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        data = text.encode()
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
