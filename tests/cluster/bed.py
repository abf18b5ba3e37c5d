"""The cluster test bed: real hosts in Linux network namespaces, joined by one bridge.

::

    client 10.231.7.30 ──┐
    haproxy 10.231.7.2 ──┤            (namespace xocl-net: bridge br0, one veth per host)
    app1..3 10.231.7.11-13 ─┤
    pg1 10.231.7.21 (primary) ──┤
    pg2 10.231.7.22 (streaming replica, pg_basebackup) ──┘

Each host is a namespace ``xocl-<name>`` with one veth ``eth0`` into the bridge; nothing is
routed to or from the machine's own network. The app hosts run ``exisone-server serve``
started as a user starts it; their database URL names ``db-primary``, which each app host
resolves through its own ``/etc/netns/xocl-appN/hosts`` (``ip netns exec`` mounts it over
``/etc/hosts``): failover rewrites that file. PostgreSQL clusters are initdb'd into a temporary
directory from Debian's binaries and run as user ``postgres``. HAProxy checks
:data:`READINESS_PATH` on every app host.

Used by the ``bed`` fixture (tests/cluster/conftest.py) and by ``scripts/cluster-bed up|down``.
Every name starts with :data:`PREFIX`, so :func:`clean` removes what a crashed run left.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Every namespace, temporary directory and hosts file of the bed starts with this.
PREFIX = "xocl"
SUBNET = "10.231.7"
#: What HAProxy asks each app host. Switch to "/health/ready" once the server has it.
READINESS_PATH = "/health/ready"
#: HAProxy's check interval (ms); a host is out after FALL failed checks, back after RISE.
CHECK_INTERVAL_MS = 300
FALL = 2
RISE = 2
APP_PORT = 8000
LB_PORT = 8080
#: Seconds the app waits to connect to PostgreSQL, and for sent data to be acknowledged,
#: before a 503. A connect under a burst (a new backend process) must fit in the first.
DB_CONNECT_TIMEOUT_S = 1.0
DB_TCP_USER_TIMEOUT_S = 0.5
ADDRESSES = {
    "lb": f"{SUBNET}.2",
    "app1": f"{SUBNET}.11",
    "app2": f"{SUBNET}.12",
    "app3": f"{SUBNET}.13",
    "pg1": f"{SUBNET}.21",
    "pg2": f"{SUBNET}.22",
    "client": f"{SUBNET}.30",
}
APPS = ("app1", "app2", "app3")
DATABASE = "exisone"
REPO = Path(__file__).resolve().parents[2]
_CLONE_NEWNET = 0x40000000


def namespace(host: str) -> str:
    return f"{PREFIX}-{host}"


def missing_parts() -> str | None:
    """Why the bed cannot be built on this machine, or None."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "building network namespaces needs root"
    for tool in ("ip", "haproxy", "iptables", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2, haproxy, iptables, util-linux)"
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "no user postgres to run PostgreSQL as"
    if not (REPO / ".venv" / "bin" / "exisone-server").exists():
        return "exisone-server is not installed in .venv (scripts/bootstrap)"
    probe = subprocess.run(
        ["ip", "netns", "add", f"{PREFIX}-probe"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"ip netns add failed: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"{PREFIX}-probe"], check=False)
    return None


def postgres_bin() -> Path | None:
    """The newest PostgreSQL version's binaries (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def pg_tool(name: str) -> str:
    """The path of one of PostgreSQL's programs (initdb, pg_ctl, psql, ...)."""
    folder = postgres_bin()
    if folder is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return str(folder / name)


def sh(*command: str, check: bool = True, timeout: float = 60) -> str:
    """Run a command; its stdout (a failure raises with its stderr)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def in_namespace(host: str, function: Callable[[], T]) -> T:
    """Call ``function`` on a thread that lives in ``host``'s network namespace: the sockets it
    opens are that host's."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{namespace(host)}", os.O_RDONLY)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{host}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def run_from(host: str, coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async function from ``host`` (its own event loop on the namespace's thread)."""
    return in_namespace(host, lambda: asyncio.run(coroutine()))


def clean() -> None:
    """Remove every namespace, process and file of a bed (this one or a crashed earlier one)."""
    for line in sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name.startswith(f"{PREFIX}-"):
            continue
        for pid in sh("ip", "netns", "pids", name, check=False).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        sh("ip", "netns", "del", name, check=False)
    for path in Path("/etc/netns").glob(f"{PREFIX}-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}-bed-*"):
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Bed:
    """A running bed: its directory, processes and the handles the drills use."""

    root: Path
    master_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    apps: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    haproxy: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    # ---- addresses

    @property
    def url(self) -> str:
        """The load balancer, as clients reach it (from the client host)."""
        return f"http://{ADDRESSES['lb']}:{LB_PORT}"

    def database_url(self, host: str = "db-primary") -> str:
        return f"postgresql://postgres@{host}:5432/{DATABASE}"

    def admin_url(self, node: str = "pg1") -> str:
        """A URL the client host uses to reach a PostgreSQL node directly."""
        return f"postgresql://postgres@{ADDRESSES[node]}:5432/{DATABASE}"

    # ---- network

    def build_network(self) -> None:
        net = namespace("net")
        sh("ip", "netns", "add", net)
        sh("ip", "-n", net, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", net, "link", "set", "br0", "up")
        for host, address in ADDRESSES.items():
            ns = namespace(host)
            sh("ip", "netns", "add", ns)
            sh(
                "ip",
                "-n",
                net,
                "link",
                "add",
                f"v-{host}",
                "type",
                "veth",
                "peer",
                "eth0",
                "netns",
                ns,
            )
            sh("ip", "-n", net, "link", "set", f"v-{host}", "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for app in APPS:
            self.point_database_name_at("pg1", app)

    def point_database_name_at(self, node: str, app: str) -> None:
        """Make ``db-primary`` resolve to ``node`` on ``app`` (in place: ``ip netns exec`` has
        bind-mounted this very file over the running server's /etc/hosts)."""
        folder = Path("/etc/netns") / namespace(app)
        folder.mkdir(parents=True, exist_ok=True)
        hosts = folder / "hosts"
        text = (
            f"127.0.0.1 localhost\n{ADDRESSES[node]} db-primary\n"
            f"{ADDRESSES['pg1']} pg1\n{ADDRESSES['pg2']} pg2\n"
        )
        with open(hosts, "w", encoding="ascii") as file:  # same inode: the mount sees it
            file.write(text)

    def cut_from_database(self, app: str, how: str = "route") -> None:
        """Cut ``app`` off from both PostgreSQL nodes. ``route``: no route to them (its link to
        the database network is down): new connections fail at once, packets of open ones go
        nowhere. ``drop``: a firewall drops the packets silently: new connections wait."""
        for node in ("pg1", "pg2"):
            address = f"{ADDRESSES[node]}/32"
            if how == "route":
                sh("ip", "-n", namespace(app), "route", "add", "unreachable", address)
            else:
                sh("ip", "netns", "exec", namespace(app), "iptables", "-A", "OUTPUT",
                   "-d", address, "-j", "DROP")  # fmt: skip

    def reconnect_to_database(self, app: str, how: str = "route") -> None:
        for node in ("pg1", "pg2"):
            address = f"{ADDRESSES[node]}/32"
            if how == "route":
                sh("ip", "-n", namespace(app), "route", "del", "unreachable", address)
            else:
                sh("ip", "netns", "exec", namespace(app), "iptables", "-D", "OUTPUT",
                   "-d", address, "-j", "DROP")  # fmt: skip

    # ---- PostgreSQL

    def pg_dir(self, node: str) -> Path:
        return self.root / node

    def as_postgres(self, node: str, *command: str, timeout: float = 120) -> str:
        """Run a PostgreSQL binary as user postgres on ``node``'s host."""
        return sh(
            "ip", "netns", "exec", namespace(node), "runuser", "-u", "postgres", "--",
            pg_tool(command[0]), *command[1:], timeout=timeout,
        )  # fmt: skip

    def start_primary(self) -> None:
        data = self.pg_dir("pg1")
        self.as_postgres("pg1", "initdb", "-D", str(data), "-A", "trust", "-U", "postgres",
                         "--no-sync", "-E", "UTF8")  # fmt: skip
        self._configure(data, "pg1")
        with open(data / "pg_hba.conf", "a", encoding="ascii") as hba:
            hba.write(f"host all all {SUBNET}.0/24 trust\n")
            hba.write(f"host replication all {SUBNET}.0/24 trust\n")
        self.pg_ctl("pg1", "start")
        sh(
            "ip", "netns", "exec", namespace("client"), pg_tool("createdb"),
            "-h", ADDRESSES["pg1"], "-U", "postgres", DATABASE,
        )  # fmt: skip

    def start_replica(self) -> None:
        data = self.pg_dir("pg2")
        self.as_postgres("pg2", "pg_basebackup", "-h", ADDRESSES["pg1"], "-U", "postgres",
                         "-D", str(data), "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        self._configure(data, "pg2")
        self.pg_ctl("pg2", "start")
        # From now on the primary acknowledges a commit once the standby has it on disk (no
        # acknowledged write is lost on failover). Set after the base backup, so the standby,
        # once promoted, waits for no standby of its own.
        self.psql("pg1", "ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.psql("pg1", "SELECT pg_reload_conf()")

    def psql(self, node: str, statement: str) -> str:
        """One statement on ``node``, from the client host."""
        return sh(
            "ip", "netns", "exec", namespace("client"), pg_tool("psql"),
            "-h", ADDRESSES[node], "-U", "postgres", "-d", DATABASE, "-Atc", statement,
        )  # fmt: skip

    def _configure(self, data: Path, node: str) -> None:
        with open(data / "postgresql.conf", "a", encoding="ascii") as conf:
            conf.write(
                f"\n# cluster bed\nlisten_addresses = '{ADDRESSES[node]}'\nport = 5432\n"
                "unix_socket_directories = ''\nmax_connections = 200\n"
                "wal_level = replica\nmax_wal_senders = 5\nwal_keep_size = '128MB'\n"
                "hot_standby = on\nsynchronous_commit = on\n"
                "shared_buffers = '32MB'\nlog_min_messages = warning\n"
            )

    def pg_ctl(self, node: str, action: str, *options: str) -> str:
        data = self.pg_dir(node)
        return self.as_postgres(
            node, "pg_ctl", "-D", str(data), "-l", str(self.root / f"{node}.log"),
            "-w", "-t", "60", *options, action,
        )  # fmt: skip

    # ---- app hosts and the load balancer

    def app_env(self) -> dict[str, str]:
        env = {
            "PATH": f"{REPO / '.venv' / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.root),
            "EXISONE_DATABASE_URL": self.database_url(),
            "EXISONE_DATABASE_REPLICA_URLS": self.database_url("pg2"),
            "EXISONE_MASTER_KEY": self.master_key,
            "EXISONE_FORWARDED_ALLOW_IPS": ADDRESSES["lb"],
            "EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS": str(DB_CONNECT_TIMEOUT_S),
            "EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS": str(DB_TCP_USER_TIMEOUT_S),
            "EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS": "10",
            "EXISONE_ANALYTICS": "off",
            "EXISONE_STATE_DIR": str(self.root / "client-state"),
        }
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        env = {**self.app_env(), "EXISONE_DATA_DIR": str(self.root / "migrate")}
        command = ["ip", "netns", "exec", namespace("app1"),
                   str(REPO / ".venv" / "bin" / "exisone-server"), "migrate"]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"migrate failed: {done.stderr.strip()}")

    def start_app(self, app: str) -> subprocess.Popen[bytes]:
        """``exisone-server serve`` on ``app``'s address, in its own session (its log in the
        bed's directory)."""
        env = {**self.app_env(), "EXISONE_DATA_DIR": str(self.root / app)}
        log = open(self.root / f"{app}.log", "ab")  # noqa: SIM115  (the process keeps it)
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                namespace(app),
                str(REPO / ".venv" / "bin" / "exisone-server"),
                "serve",
                "--no-migrate",
                "--host",
                ADDRESSES[app],
                "--port",
                str(APP_PORT),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.apps[app] = process
        return process

    def wait_serving(self, app: str, timeout: float = 30) -> None:
        """Until ``app`` answers its readiness path itself."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.apps[app]
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with {process.returncode}: {self.log(app)}")
            if in_namespace("client", lambda: _http_status(ADDRESSES[app], APP_PORT)) == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{app} did not come up: {self.log(app)}")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start_haproxy(self) -> None:
        config = self.root / "haproxy.cfg"
        servers = "\n".join(f"    server {app} {ADDRESSES[app]}:{APP_PORT} check" for app in APPS)
        config.write_text(
            f"""global
    maxconn 4000
    stats socket {self.root / "haproxy.sock"} mode 600 level admin
defaults
    mode http
    option forwardfor
    timeout connect 1s
    timeout check 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend clients
    bind {ADDRESSES["lb"]}:{LB_PORT}
    default_backend apps
backend apps
    balance roundrobin
    http-response set-header X-Served-By %s
    option httpchk GET {READINESS_PATH}
    http-check expect status 200
    default-server inter {CHECK_INTERVAL_MS} fall {FALL} rise {RISE}
{servers}
"""
        )
        log = open(self.root / "haproxy.log", "ab")  # noqa: SIM115
        self.haproxy = subprocess.Popen(
            ["ip", "netns", "exec", namespace("lb"), "haproxy", "-db", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_backends_up(APPS)

    def haproxy_command(self, command: str) -> str:
        """A runtime API command on HAProxy's stats socket (a Unix socket: no network)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(str(self.root / "haproxy.sock"))
            client.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def backend_states(self) -> dict[str, str]:
        """HAProxy's view of each app host: UP, DOWN, MAINT, ..."""
        states = {}
        for line in self.haproxy_command("show stat").splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "apps" and fields[1] in APPS:
                states[fields[1]] = fields[17]
        return states

    def backend_sessions(self) -> dict[str, int]:
        """Requests HAProxy has in flight on each app host."""
        sessions = {}
        for line in self.haproxy_command("show stat").splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "apps" and fields[1] in APPS:
                sessions[fields[1]] = int(fields[4] or 0)
        return sessions

    def wait_backends_up(self, apps: tuple[str, ...], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.backend_states() if (self.root / "haproxy.sock").exists() else {}
            if all(states.get(app, "").startswith("UP") for app in apps):
                return
            time.sleep(0.1)
        raise RuntimeError(f"HAProxy never saw {apps} up: {states}; {self.log('haproxy')}")

    def stop_app(self, app: str, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        """Signal ``app``'s server (its whole session for SIGKILL); its exit status."""
        process = self.apps[app]
        if sig == signal.SIGKILL:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(sig)
        return process.wait(timeout=timeout)

    # ---- whole bed

    def up(self) -> None:
        self.build_network()
        self.start_primary()
        self.start_replica()
        self.migrate()
        for app in APPS:
            self.start_app(app)
        for app in APPS:
            self.wait_serving(app)
        self.start_haproxy()

    def down(self) -> None:
        for process in [*self.apps.values(), self.haproxy]:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        clean()


def _http_status(host: str, port: int, path: str = READINESS_PATH) -> int:
    """The status of a plain GET (0 when nothing answers)."""
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = connection.recv(64).decode("latin-1")
        return int(head.split()[1]) if head.startswith("HTTP/") else 0
    except (OSError, ValueError, IndexError):
        return 0


def new_bed() -> Bed:
    """A bed in a fresh temporary directory (cleaning any earlier one first)."""
    clean()
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-bed-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    return Bed(root)


def main(argv: list[str]) -> int:
    """``up``: build a bed and print how to reach it; ``down``: remove it."""
    if argv[1:] == ["down"]:
        clean()
        print("cluster bed removed")
        return 0
    if argv[1:] != ["up"]:
        print("usage: scripts/cluster-bed up|down", file=sys.stderr)
        return 2
    problem = missing_parts()
    if problem:
        print(f"cannot build the cluster bed: {problem}", file=sys.stderr)
        return 1
    bed = new_bed()
    try:
        bed.up()
    except BaseException:
        bed.down()
        raise
    print(f"cluster bed up in {bed.root}")
    print(
        f"  load balancer  {bed.url}  (ip netns exec {namespace('client')} curl {bed.url}/health)"
    )
    for app in APPS:
        print(f"  {app}           http://{ADDRESSES[app]}:{APP_PORT}  pid {bed.apps[app].pid}")
    print(f"  primary        {bed.admin_url('pg1')}")
    print(f"  replica        {bed.admin_url('pg2')}")
    env_file = bed.root / "app.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in bed.app_env().items()))
    print(f"  app settings   {env_file} (master key included; readable by root only)")
    print("remove it with: scripts/cluster-bed down")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
