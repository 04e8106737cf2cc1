"""A real etcd + kube-apiserver on loopback for the realapi test tier.

The binaries come from ``tools/kube/build.sh`` (built from the Go module proxy, cached outside the
repo). Only kube-apiserver and etcd run: there is no kube-controller-manager, scheduler or kubelet,
so nothing reconciles. In particular a deleted namespace stays ``Terminating`` forever (the
namespace controller never finalizes it), pods stay ``Pending``, and no ``default`` ServiceAccount
appears in new namespaces. Tests should use unique object names and not depend on garbage collection.
What the product needs of the missing parts is supplied by the test process: admission webhooks
(tests/realapi/webhook.py: Istio injection, and the ServiceAccount defaulting the disabled plugin
would do) and a small controller (tests/realapi/harness.py: ReplicaSets, pods Running/Ready, status).

Certificates are made with the ``openssl`` command line tool: the ``cryptography`` package is not
installed in the project's environment (kubernetes 37 does not depend on it).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tools" / "kube" / "build.sh"

VIEWER_USER = "viewer"
VIEWER_CLUSTERROLE = "meshtui-viewer"
ADMIN_USER = "meshtui-admin"


class RealApiServerError(RuntimeError):
    """The build or the startup of the real API server failed."""


def ensure_binaries(
    timeout: float = 3600.0, *, cache_only: bool = False, progress: Callable[[str], None] | None = None
) -> tuple[Path, Path]:
    """Build (or reuse from the cache) kube-apiserver and etcd; return ``(kube_apiserver, etcd)``.

    A cold build takes several minutes on 2 cores; a cached one returns in well under a second. The
    script's progress lines go to ``progress`` as they come (else to stderr). ``cache_only`` never
    builds: without cached binaries it raises RealApiServerError.
    """
    env = {**os.environ, "GO": "/nonexistent/go"} if cache_only else None
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    proc = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    lines: list[str] = []
    try:
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            say(lines[-1])
        out = proc.stdout.read()
        returncode = proc.wait()
    finally:
        killer.cancel()
    if returncode != 0:
        tail = "\n".join(lines[-40:])
        raise RealApiServerError(f"{BUILD_SCRIPT} exited with {returncode}:\n{tail}")
    found: dict[str, Path] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("KUBE_APISERVER", "ETCD"):
            found[key] = Path(value)
    if set(found) != {"KUBE_APISERVER", "ETCD"}:
        raise RealApiServerError(f"unexpected output from {BUILD_SCRIPT}: {out!r}")
    return found["KUBE_APISERVER"], found["ETCD"]


class RealApiUnavailable(RealApiServerError):
    """No go on PATH and no cached binaries: the realapi tier cannot run on this machine (skip it)."""


def available_binaries(progress: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """`ensure_binaries`, building only when ``go`` is on PATH; else cached binaries or RealApiUnavailable."""
    have_go = shutil.which("go") is not None
    try:
        return ensure_binaries(cache_only=not have_go, progress=progress)
    except RealApiServerError:
        if not have_go:
            raise RealApiUnavailable(
                "no `go` on PATH and no cached kube-apiserver/etcd (tools/kube/build.sh needs Go)"
            ) from None
        raise


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process is SIGKILLed (e.g. by a CI timeout) the
    # servers get SIGTERM instead of living on. PR_SET_PDEATHSIG follows the parent *thread*, so
    # start the server from a thread that outlives it (pytest fixtures run on the main thread).
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG


_OPENSSL_CNF = """\
[req]
distinguished_name = req_dn
[req_dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


class Pki:
    """A throwaway CA and the certificates signed by it, as PEM files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cnf = self.dir / "openssl.cnf"
        self.cnf.write_text(_OPENSSL_CNF)
        self.ca_crt = self.dir / "ca.crt"
        self.ca_key = self.dir / "ca.key"
        self._openssl(
            "req", "-x509", "-new", "-config", str(self.cnf), "-extensions", "ca",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(self.ca_key), "-out", str(self.ca_crt),
            "-days", "7", "-subj", "/CN=meshtui-realapi-ca",
        )  # fmt: skip

    def _openssl(self, *args: str) -> None:
        proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RealApiServerError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")

    def issue(self, name: str, subject: str, profile: str) -> tuple[Path, Path]:
        """Issue a certificate for ``subject`` (e.g. ``/O=group/CN=user``); return ``(crt, key)``."""
        key, csr, crt = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        self._openssl(
            "req", "-new", "-config", str(self.cnf),
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", subject,
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca_crt), "-CAkey", str(self.ca_key),
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "7",
            "-extfile", str(self.cnf), "-extensions", profile, "-out", str(crt),
        )  # fmt: skip
        return crt, key

    def service_account_keys(self) -> tuple[Path, Path]:
        """RSA key pair for signing/verifying service-account tokens; return ``(private, public)``."""
        key, pub = self.dir / "sa.key", self.dir / "sa.pub"
        self._openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
        self._openssl("pkey", "-in", str(key), "-pubout", "-out", str(pub))
        return key, pub


class RealApiServer:
    """etcd + kube-apiserver on 127.0.0.1 with TLS, client-certificate auth and RBAC.

    Usage::

        server = RealApiServer(kube_apiserver, etcd).start()
        try:
            ...  # server.admin_kubeconfig, server.viewer_kubeconfig, server.compact()
        finally:
            server.stop()

    The apiserver's own periodic etcd compaction is disabled so that history only disappears when a
    test calls :meth:`compact`.
    """

    def __init__(
        self,
        kube_apiserver: Path | str,
        etcd: Path | str,
        *,
        startup_timeout: float = 120.0,
        uncached_resources: Sequence[str] = (),
        extra_apiserver_args: Sequence[str] = (),
    ) -> None:
        """``uncached_resources`` (``resource[.group]``, e.g. ``configmaps`` or ``deployments.apps``)
        are served without the apiserver's watch cache, straight from etcd; see :meth:`compact`."""
        self.kube_apiserver_bin = Path(kube_apiserver)
        self.etcd_bin = Path(etcd)
        self.startup_timeout = startup_timeout
        self.uncached_resources = list(uncached_resources)
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.workdir: Path | None = None
        self.etcd_url = ""
        self.server_url = ""
        self.version = ""
        self.version_info: dict[str, Any] = {}
        self.admin_kubeconfig = Path()
        self.viewer_kubeconfig = Path()
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._logs: list[BinaryIO] = []
        self._admin_ssl: ssl.SSLContext | None = None
        self._admin_crt = self._admin_key = Path()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> RealApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RealApiServer:
        if self.workdir is not None:
            raise RealApiServerError("already started")
        self.workdir = Path(tempfile.mkdtemp(prefix="meshtui-realapi-"))
        atexit.register(self.stop)
        try:
            pki = Pki(self.workdir / "pki")
            self._start_etcd()
            self._start_apiserver(pki)
            self._write_kubeconfigs(pki)
            self._grant_viewer()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the apiserver, then etcd; SIGKILL whatever is still running after ``timeout``."""
        for proc in (self._apiserver, self._etcd):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._apiserver = self._etcd = None
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    # -- etcd ----------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        assert self.workdir is not None
        log = (self.workdir / f"{name}.log").open("wb")
        self._logs.append(log)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            preexec_fn=_die_with_parent,
        )

    def log_tail(self, name: str = "kube-apiserver", lines: int = 40) -> str:
        """The last ``lines`` lines of ``kube-apiserver.log`` or ``etcd.log``."""
        if self.workdir is None:
            return ""
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _start_etcd(self) -> None:
        assert self.workdir is not None
        for attempt in range(3):
            client_port, peer_port = _free_port(), _free_port()
            self.etcd_url = f"http://127.0.0.1:{client_port}"
            peer_url = f"http://127.0.0.1:{peer_port}"
            data_dir = self.workdir / f"etcd-data-{attempt}"
            self._etcd = self._spawn(
                "etcd",
                [
                    str(self.etcd_bin),
                    "--name=meshtui",
                    f"--data-dir={data_dir}",
                    f"--listen-client-urls={self.etcd_url}",
                    f"--advertise-client-urls={self.etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=meshtui={peer_url}",
                    "--initial-cluster-state=new",
                    # Throwaway data: skipping fsync makes writes (and so the tests) much faster.
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self._etcd.poll() is not None:
                    break  # most likely a port taken between _free_port() and bind: retry
                with (
                    contextlib.suppress(OSError, ValueError),
                    urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp,
                ):
                    if json.load(resp).get("health") == "true":
                        return
                time.sleep(0.1)
            else:
                raise RealApiServerError(
                    f"etcd did not become healthy within 30s; last log lines:\n{self.log_tail('etcd')}"
                )
        raise RealApiServerError(f"etcd exited during startup; last log lines:\n{self.log_tail('etcd')}")

    def _etcd_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.etcd_url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, Any] = json.load(resp)
            return result

    def etcd_revision(self) -> int:
        """etcd's current revision (what a newly written object's resourceVersion is based on)."""
        key = base64.b64encode(b"/registry").decode()
        return int(self._etcd_post("/v3/kv/range", {"key": key, "count_only": True})["header"]["revision"])

    def compact(self, revision: int | None = None) -> int:
        """Compact etcd's history up to ``revision`` (default: the current one) and return it.

        Done through etcd's gRPC-JSON gateway (``POST /v3/kv/compaction``), so no etcdctl is needed.
        ``physical`` waits until the compaction is applied to the backend.

        Only requests that reach etcd see the compaction: a watch from a compacted resourceVersion
        on a resource in ``uncached_resources`` gets an ERROR event with code 410 ("too old
        resource version"). A watch on a watch-cached resource is served from the apiserver's
        cache and is *not* affected (measured on v1.37.2: it replays the events even from
        resourceVersion 1); it only gets 410 once the resourceVersion has left the cache's window
        (sized to keep about 75 s of events), which a test cannot provoke quickly.

        Edge (measured on v1.37.2): a watch from exactly one revision before the compaction point
        starts *at* the compacted revision, whose etcd event has no previous value, and gets an ERROR
        event with 500 InternalError ("etcd event received with PrevKv=nil"), not 410. A 410 needs the
        watch's resourceVersion to be at least two revisions behind the compaction.
        """
        rev = self.etcd_revision() if revision is None else revision
        self._etcd_post("/v3/kv/compaction", {"revision": str(rev), "physical": True})
        return rev

    # -- kube-apiserver --------------------------------------------------------------------------

    def _start_apiserver(self, pki: Pki) -> None:
        assert self.workdir is not None
        serving_crt, serving_key = pki.issue("apiserver", "/CN=kube-apiserver", "server")
        sa_key, sa_pub = pki.service_account_keys()
        self._admin_crt, self._admin_key = pki.issue("admin", f"/O=system:masters/CN={ADMIN_USER}", "client")
        port = _free_port()
        self.server_url = f"https://127.0.0.1:{port}"
        argv = [
            str(self.kube_apiserver_bin),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={serving_crt}",
            f"--tls-private-key-file={serving_key}",
            f"--client-ca-file={pki.ca_crt}",
            "--anonymous-auth=false",
            "--authorization-mode=RBAC",
            "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            # ServiceAccount admission rejects pods whose ServiceAccount does not exist, and the
            # `default` ServiceAccount of each namespace is created by kube-controller-manager,
            # which is not running here: pod creates would fail with "serviceaccount not found".
            "--disable-admission-plugins=ServiceAccount",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            # Only an allocation range for Service ClusterIPs; nothing routes to it.
            "--service-cluster-ip-range=10.96.0.0/16",
            # The `kubernetes` Endpoints reconciler would publish 127.0.0.1, which Endpoints
            # validation rejects (loopback), and log errors forever.
            "--endpoint-reconciler-type=none",
            # History is only compacted when a test asks for it (see compact()).
            "--etcd-compaction-interval=0",
            "--profiling=false",
        ]
        if self.uncached_resources:
            argv.append("--watch-cache-sizes=" + ",".join(f"{r}#0" for r in self.uncached_resources))
        argv += self.extra_apiserver_args
        self._apiserver = self._spawn("kube-apiserver", argv)
        self._admin_ssl = ssl.create_default_context(cafile=str(pki.ca_crt))
        self._admin_ssl.load_cert_chain(str(self._admin_crt), str(self._admin_key))

        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while True:
            if self._apiserver.poll() is not None:
                raise RealApiServerError(
                    f"kube-apiserver exited with {self._apiserver.returncode} during startup; "
                    f"last log lines:\n{self.log_tail()}"
                )
            try:
                status, body = self._request("GET", "/readyz")
                if status == 200:
                    break
                last = f"HTTP {status}: {body.decode(errors='replace')[-2000:]}"
            except (OSError, ssl.SSLError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise RealApiServerError(
                    f"kube-apiserver not ready within {self.startup_timeout:.0f}s (last /readyz: {last}); "
                    f"last log lines:\n{self.log_tail()}"
                )
            time.sleep(0.25)
        status, body = self._request("GET", "/version")
        self.version_info = json.loads(body)
        self.version = str(self.version_info["gitVersion"])

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """An HTTPS request to the apiserver as the admin user: ``(status, body)``."""
        req = urllib.request.Request(
            f"{self.server_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._admin_ssl) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    # -- kubeconfigs and RBAC --------------------------------------------------------------------

    def _write_kubeconfigs(self, pki: Pki) -> None:
        assert self.workdir is not None
        viewer_crt, viewer_key = pki.issue("viewer", f"/CN={VIEWER_USER}", "client")
        self.admin_kubeconfig = self._kubeconfig("admin", pki.ca_crt, self._admin_crt, self._admin_key)
        self.viewer_kubeconfig = self._kubeconfig(VIEWER_USER, pki.ca_crt, viewer_crt, viewer_key)

    def _kubeconfig(self, user: str, ca: Path, crt: Path, key: Path) -> Path:
        assert self.workdir is not None

        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "realapi",
                    "cluster": {"server": self.server_url, "certificate-authority-data": b64(ca)},
                }
            ],
            "users": [{"name": user, "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
            "contexts": [{"name": f"realapi-{user}", "context": {"cluster": "realapi", "user": user}}],
            "current-context": f"realapi-{user}",
            "preferences": {},
        }
        path = self.workdir / f"{user}.kubeconfig"
        # JSON is valid YAML, and both kubectl and the Python client read it as a kubeconfig.
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    def _grant_viewer(self) -> None:
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": VIEWER_CLUSTERROLE},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                {"nonResourceURLs": ["*"], "verbs": ["get"]},
            ],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": VIEWER_CLUSTERROLE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": VIEWER_CLUSTERROLE,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER_USER}],
        }
        for path, obj in ((f"{rbac}/clusterroles", role), (f"{rbac}/clusterrolebindings", binding)):
            status, body = self._request("POST", path, obj)
            if status != 201:
                raise RealApiServerError(f"creating {obj['kind']} failed: HTTP {status}: {body.decode()}")
