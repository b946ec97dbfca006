"""The chaos run's own PostgreSQL, Redis and Neo4j: throwaway, on loopback, on free ports.

Nothing here touches the machine's shared services (5432, 6379, 7687): each server is a
child process of the run with its data in the run's temporary folder, started in a process
group of its own so that it can be killed whole, and `Processes.kill_all` takes every one
down when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psycopg

REPOSITORY = Path(__file__).resolve().parents[1]
GRAPHDB_JAR = REPOSITORY / "graphdb" / "target" / "graphdb-1.jar"
GRAPHDB_CLASSPATH = REPOSITORY / "graphdb" / "target" / "classpath.txt"
LOOPBACK = "127.0.0.1"

# initdb and postgres refuse to run as root: as root the cluster belongs to this user.
POSTGRES_USER = "postgres"
DATABASE_USER = "minutes"
# A throwaway cluster on loopback that lives as long as the run: not a secret.
DATABASE_PASSWORD = "chaos"

START_TIMEOUT_S = 90.0  # Neo4j on a busy 2-core machine takes a while
STOP_TIMEOUT_S = 30.0


class ServiceError(Exception):
    """A service of the run did not start or stop as it should."""


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick), on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_until(ready: Callable[[], bool], *, timeout: float, poll: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(poll)
    return ready()


@dataclass
class Processes:
    """Every process group the run started, so that all of them end with it."""

    groups: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, command: Sequence[str], *, log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=REPOSITORY,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole, children too
            )
        self.groups.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """kill -9 of the whole group: no chance to hand anything back."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
        # Never signalled again: its pid may be another process's by the end of the run.
        if process in self.groups:
            self.groups.remove(process)

    def stop(self, process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        """A clean stop of the group, kill -9 when it takes too long."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT_S)
        self.kill(process)

    def kill_all(self) -> None:
        for process in reversed(list(self.groups)):
            try:
                self.kill(process)
            except (OSError, subprocess.TimeoutExpired):
                continue  # the others must still go


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", POSTGRES_USER, "--", *command]
    return command


def _postgres_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name),
    )
    if not versions:
        raise ServiceError("no PostgreSQL server in /usr/lib/postgresql/*/bin")
    return versions[-1].parent


@dataclass
class Server:
    """A server of the run: its folder, its loopback port, its process group while it runs."""

    name: ClassVar[str]
    root: Path
    processes: Processes
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def _launch(self, command: Sequence[str]) -> None:
        """Starts `command`; back once it listens on the port, an error if it exits first."""
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{self.name.lower()}.log"
        process = self.process = self.processes.start(command, log=log)
        wait_until(
            lambda: listening(self.port) or process.poll() is not None,
            timeout=START_TIMEOUT_S,
            poll=0.5,
        )
        if not listening(self.port):
            raise ServiceError(f"{self.name} did not start:\n{_tail(log)}")


@dataclass
class Postgres(Server):
    """A cluster made by initdb in the run's folder, its server a child of the run."""

    name = "PostgreSQL"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str) -> str:
        return (
            f"postgresql+psycopg://{DATABASE_USER}:{DATABASE_PASSWORD}@{LOOPBACK}:{self.port}/"
            f"{database}"
        )

    def create(self) -> None:
        bin_dir = _postgres_bin()
        self.root.mkdir(parents=True)
        password_file = self.root / "password"
        password_file.write_text(DATABASE_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(self.root, POSTGRES_USER)
            shutil.chown(password_file, POSTGRES_USER)
        # --no-sync: a cluster thrown away at the end need not reach the disk to start.
        result = subprocess.run(
            _as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "--pgdata",
                    str(self.data),
                    "--username",
                    DATABASE_USER,
                    "--pwfile",
                    str(password_file),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        password_file.unlink()
        if result.returncode != 0:
            raise ServiceError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        log = self.log
        if os.geteuid() == 0 and not log.exists():
            log.touch()
            shutil.chown(log, POSTGRES_USER)
        self.process = self.processes.start(
            _as_postgres(
                [
                    str(_postgres_bin() / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    "unix_socket_directories=",  # TCP on loopback only
                    "-c",
                    "max_connections=100",
                ]
            ),
            log=log,
        )
        if not wait_until(self._accepts_logins, timeout=START_TIMEOUT_S, poll=0.5):
            raise ServiceError(f"PostgreSQL did not start:\n{_tail(log)}")

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster): sessions are cut, as in a restart."""
        if self.process is None:
            return
        pid_file = self.data / "postmaster.pid"
        if self.process.poll() is None and pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.processes.kill(self.process)
        self.process = None

    def _accepts_logins(self) -> bool:
        try:
            with psycopg.connect(
                host=LOOPBACK,
                port=self.port,
                user=DATABASE_USER,
                password=DATABASE_PASSWORD,
                dbname="postgres",
                connect_timeout=2,
            ):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        """A new empty database (its name chosen by the run, never from outside)."""
        with psycopg.connect(
            host=LOOPBACK,
            port=self.port,
            user=DATABASE_USER,
            password=DATABASE_PASSWORD,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            connection.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            )
        return self.url(name)


@dataclass
class Redis(Server):
    """A redis-server with nothing on disk: killed and started again, it comes back empty."""

    name = "Redis"

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        self._launch(
            [
                "redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ]
        )

    def kill(self) -> None:
        if self.process is not None:
            self.processes.kill(self.process)
            self.process = None


@dataclass
class Neo4j(Server):
    """graphdb/'s embedded Neo4j (as scripts/services.sh runs it) on a Bolt port of its own."""

    name = "Neo4j"

    @property
    def uri(self) -> str:
        return f"bolt://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        if not GRAPHDB_JAR.exists() or not GRAPHDB_CLASSPATH.exists():
            raise ServiceError(
                f"{GRAPHDB_JAR} is missing: build it with "
                "`mvn -q -B -f graphdb/pom.xml package` (make chaos does)"
            )
        classpath = f"{GRAPHDB_JAR}:{GRAPHDB_CLASSPATH.read_text().strip()}"
        self._launch(
            [
                "java",
                "-Xms128m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                f"-Dgraphdb.data={self.root / 'data'}",
                f"-Dgraphdb.host={LOOPBACK}",
                f"-Dgraphdb.port={self.port}",
                "-Dgraphdb.pagecache=64",
                "-cp",
                classpath,
                "minutes.graphdb.LocalNeo4j",
            ]
        )

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), so it starts again quickly on the same data."""
        if self.process is not None:
            self.processes.stop(self.process)
            self.process = None


def _tail(log: Path, characters: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-characters:]
    except OSError:
        return "(no log)"
