"""A throwaway PostgreSQL server on 127.0.0.1 for the tests (what pytest-postgresql does).

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port with its socket in that
folder, and ``pg_ctl stop`` at the end. ``initdb`` refuses to run as root, so when the tests run
as root the server runs as the ``postgres`` user (``runuser``). Where no PostgreSQL binaries exist
the tests that need the server are skipped with a message saying how to install them, except in
CI (``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


INSTALL_HINT = "install Debian's `postgresql` package (apt-get install -y postgresql)"


def find_bin_dir() -> str | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield a SQLAlchemy URL of an empty database; stop and delete it."""
    with restartable_postgres_server() as (url, _):
        yield url


@contextlib.contextmanager
def restartable_postgres_server() -> Iterator[tuple[str, Callable[[str], None]]]:
    """:func:`postgres_server`, yielding also ``restart(mode)``: ``pg_ctl restart -m mode`` (fast, immediate)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = f"PostgreSQL server binaries not found: {INSTALL_HINT}."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true turns a missing server into a failure)")
        pytest.skip(message)
    root = tempfile.mkdtemp(prefix="cascade-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    run = lambda cmd: subprocess.run(_as_server_user(cmd), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run([f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        run(
            [
                f"{bin_dir}/pg_ctl",
                "-D",
                data,
                "-w",
                "-t",
                "60",
                "-l",
                os.path.join(root, "log"),
                "-o",
                f"-h 127.0.0.1 -p {port} -k {sock} -c max_connections=60 -c fsync=off",
                "start",
            ]
        )
        run([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "optuna"])

        def restart(mode: str) -> None:
            run(
                [
                    f"{bin_dir}/pg_ctl",
                    "-D",
                    data,
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    os.path.join(root, "log"),
                    "restart",
                ]
            )

        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna", restart
    finally:
        subprocess.run(
            _as_server_user([f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
