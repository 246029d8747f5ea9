"""A throw-away PostgreSQL server for the pull tests and `make bench`: real binaries, no network.

The cluster lives in a private temp folder, listens on 127.0.0.1 at a free port (and a Unix
socket in the same folder), and requires a password over TCP, so wrong credentials are real
authentication failures. PostgreSQL refuses to run as root: as root (CI), the server runs as the
`postgres` system user (else `nobody`) through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

SUPERUSER = "meterline_admin"


def find_bindir() -> Path:
    """`$METERLINE_PG_BINDIR`, else the newest Debian /usr/lib/postgresql/<v>/bin, else PATH."""
    if os.environ.get("METERLINE_PG_BINDIR"):
        return Path(os.environ["METERLINE_PG_BINDIR"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found (initdb): `make install` installs postgresql "
        "with apt-get, or set METERLINE_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One cluster: `start()`, `dsn(db)`, `create_database(name)`, `stop()`."""

    def __init__(self, fsync: bool = True) -> None:
        self.bindir = find_bindir()
        self.password = "pw-" + secrets.token_hex(12)
        self.port = _free_port()
        self.fsync = fsync
        self.base = Path(tempfile.mkdtemp(prefix="meterline-pg-"))
        self.data = self.base / "data"
        self._user = None
        if os.geteuid() == 0:
            for candidate in ("postgres", "nobody"):
                try:
                    self._user = pwd.getpwnam(candidate)
                    break
                except KeyError:
                    continue
            os.chown(self.base, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.base, 0o700)

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.base)

    def start(self) -> PostgresServer:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._user is not None:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale",
            "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            f"-c fsync={'on' if self.fsync else 'off'} -c shared_buffers=128MB"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def dsn(self, dbname: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return (
            f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{dbname}?connect_timeout=10"
        )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True)

    def create_database(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)
