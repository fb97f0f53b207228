"""A real Dovecot IMAP server for tests, from Debian's ``dovecot-imapd`` package.

Everything lives in a temporary folder: the configuration, a passwd-file of users with
plain passwords, their maildirs, the sockets and the log. The server listens on loopback
ports only, without TLS or, with ``tls=True``, also with STARTTLS and implicit TLS under
a self-signed certificate made with the ``openssl`` command (trust it through
:attr:`DovecotServer.cert_file`). ``idle=False`` leaves IDLE out of the capabilities, as
some servers do, so readers must poll. Mail arrives as an MTA would deliver it: appended
to the user's INBOX (:meth:`DovecotServer.deliver`).

Dovecot runs as root here and hands mail to ``nobody`` (its mail processes refuse root),
which is why the folder is made outside pytest's private temporary root.

A pytest plugin (``tests/conftest.py`` loads it): the ``dovecot`` fixture is a started
server with one user, :data:`MAIL_USER`; :func:`running_dovecot` makes others.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

from infra.ports import free_port

DOVECOT = "/usr/sbin/dovecot"
MAIL_USER, MAIL_PASSWORD = "support", "imap-secret"
MAIL_OWNER = 65534  # nobody
START_SECONDS = 10.0
STOP_SECONDS = 10.0
_NO_IDLE_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR ENABLE NAMESPACE UIDPLUS UNSELECT"


class DovecotServer:
    """One Dovecot, started and stopped at will on the same ports and the same mail."""

    def __init__(
        self, directory: Path, users: Mapping[str, str], *, idle: bool = True, tls: bool = False
    ) -> None:
        self.directory = directory
        self.users = dict(users)
        self.idle = idle
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self._process: subprocess.Popen[bytes] | None = None
        self._config = self._write_config()

    @property
    def cert_file(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    def _write_config(self) -> Path:
        mail = self.directory / "mail"
        mail.mkdir(parents=True, exist_ok=True)
        shutil.chown(mail, MAIL_OWNER, MAIL_OWNER)
        users = self.directory / "users"
        users.write_text(
            "".join(
                f"{name}:{{PLAIN}}{password}:{MAIL_OWNER}:{MAIL_OWNER}::{mail / name}\n"
                for name, password in self.users.items()
            )
        )
        settings = [
            f"base_dir = {self.directory / 'run'}",
            f"state_dir = {self.directory / 'state'}",
            f"log_path = {self.log_file}",
            "protocols = imap",
            "listen = 127.0.0.1",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "default_internal_user = dovecot",
            "default_login_user = dovenull",
            "mail_location = maildir:~/Maildir",
            # IDLE learns of new mail through inotify; where the machine has no inotify
            # instance left for the mail user, Dovecot looks every this often instead
            # (30 s by default, longer than the tests wait).
            "mailbox_idle_check_interval = 1 secs",
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {users}\n}}",
            f"userdb {{\n  driver = passwd-file\n  args = {users}\n}}",
        ]
        if not self.idle:
            settings.append(f"imap_capability = {_NO_IDLE_CAPABILITIES}")
        imaps = "  inet_listener imaps {\n    port = 0\n  }"
        if self.tls:
            self._make_certificate()
            settings += [
                "ssl = yes",
                f"ssl_cert = <{self.cert_file}",
                f"ssl_key = <{self.directory / 'key.pem'}",
            ]
            imaps = (
                f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.tls_port}\n"
                "    ssl = yes\n  }"
            )
        else:
            settings.append("ssl = no")
        settings.append(
            "service imap-login {\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
            f"{imaps}\n}}"
        )
        config = self.directory / "dovecot.conf"
        config.write_text("\n".join(settings) + "\n")
        return config

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-keyout", str(self.directory / "key.pem"), "-out", str(self.cert_file)),
                *("-subj", "/CN=localhost"),
                *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self._config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends the children too
        )
        deadline = time.monotonic() + START_SECONDS
        while not _accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.log_file.read_text() if self.log_file.exists() else ""
                raise RuntimeError(f"dovecot did not start:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and every process it started, as a machine going down would.

        The master alone exits at once, but its IMAP processes linger for seconds and keep
        their clients' connections open; the whole process group is told to stop.
        """
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while _signal_group(process.pid, 0) and time.monotonic() < deadline:
            process.poll()  # reaps the master once it has exited
            time.sleep(0.02)
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None

    def deliver(
        self, user: str, raw: bytes, folder: str = "INBOX", received_at: datetime | None = None
    ) -> int:
        """Append ``raw`` to the user's folder, as an MTA delivers (at ``received_at``, by
        default now); returns its UID."""
        with IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10) as client:
            client.login(user, self.users[user])
            answer = client.append(folder, raw, msg_time=received_at)
        # "[APPENDUID <uidvalidity> <uid>] Append completed."
        return int(answer.split(b"]", 1)[0].split()[-1])


def _signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to the process group ``group``; False once none of it is left."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_dovecot(
    users: Mapping[str, str], *, idle: bool = True, tls: bool = False
) -> Iterator[DovecotServer]:
    """A started server with ``users`` (name → password), stopped and removed after."""
    directory = Path(tempfile.mkdtemp(prefix="rapport-dovecot-"))
    directory.chmod(0o755)  # the mail processes run as nobody
    server = DovecotServer(directory, users, idle=idle, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A started server with the user :data:`MAIL_USER`, for one test."""
    with running_dovecot({MAIL_USER: MAIL_PASSWORD}) as server:
        yield server
