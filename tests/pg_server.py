"""A throwaway PostgreSQL server on loopback, for tests and benchmarks.

``PostgresServer.start()`` runs ``initdb`` into a temporary directory and ``pg_ctl start`` on a
free 127.0.0.1 port with trust authentication and durability off (``fsync=off``: the data of a
test is worth nothing after it). PostgreSQL refuses to run as root, so as root the server runs
as the ``postgres`` user that Debian's package creates. ``stop()`` stops it and deletes the
directory.

Where the binaries are: ``PG_BIN`` if set, else the newest ``/usr/lib/postgresql/*/bin``
(Debian), else ``initdb`` on the PATH. ``find_binaries()`` returns None when there are none;
the tests then skip with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

NO_POSTGRES = ("PostgreSQL is not installed (apt-get install -y postgresql, or set PG_BIN to the "
               "directory of initdb and pg_ctl)")


def find_binaries() -> Path | None:
    if os.environ.get("PG_BIN"):
        directory = Path(os.environ["PG_BIN"])
        return directory if (directory / "initdb").is_file() else None
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    directory: Path
    port: int
    user: str | None  # the OS user the server runs as; None: the current one

    @classmethod
    def start(cls, bin_dir: Path | None = None, max_connections: int = 200) -> PostgresServer:
        bin_dir = bin_dir or find_binaries()
        if bin_dir is None:
            raise RuntimeError(NO_POSTGRES)
        as_root = os.geteuid() == 0
        directory = Path(tempfile.mkdtemp(prefix="pgtest-"))
        server = cls(bin_dir, directory, _free_port(), "postgres" if as_root else None)
        if as_root:
            entry = pwd.getpwnam("postgres")
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        server._run("initdb", "-D", str(directory / "data"), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} "
                   f"-c unix_socket_directories={directory} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off "
                   f"-c max_connections={max_connections} -c shared_buffers=32MB")
        server._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(directory / "data"),
                    "-l", str(directory / "log"), "-o", options)
        return server

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              cwd=self.directory)
        if done.returncode != 0:
            log = self.directory / "log"
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}"
                               + (log.read_text()[-2000:] if log.is_file() else ""))
        return done.stdout

    def url(self, database: str = "postgres", driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def tool(self, program: str) -> str:
        """The path of a client program of the same version (psql, pg_dump, pg_restore)."""
        return str(self.bin_dir / program)

    def execute(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql (one statement or several; no transaction around them)."""
        done = subprocess.run([self.tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               self.dsn(database), "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D",
                      str(self.directory / "data"))
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
