"""A real SMTP server for tests: mail sent to it is kept, envelope and bytes, to be read back.

:class:`SmtpSink` runs aiosmtpd in its own thread on a free loopback port, so it serves
async and plain tests alike (and separate processes, in the end-to-end journey, where it
plays the customer's mail client). It speaks the three ways a mailbox can be configured
(:class:`~services.email_adapter.config.Security`): plain, STARTTLS (required before any
mail) and implicit TLS, with a self-signed certificate for ``127.0.0.1`` and
``localhost`` that a client trusts through its CA file. With ``user``/``password`` it
offers AUTH (only over TLS) and refuses mail from a client that did not log in.

``refuse(recipient, code)`` makes it answer RCPT for that recipient with ``451``
(temporary: the next ``times`` attempts) or ``550`` (for good), as real servers do.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.email_adapter.config import Security

HOST = "127.0.0.1"
_ANSWERS = {
    451: "451 4.3.0 Mailbox busy, try again later",
    550: "550 5.1.1 No such user here",
}


@dataclass(frozen=True, slots=True)
class Certificate:
    """A self-signed certificate: it is its own CA, so ``cert_file`` is the CA file too."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificate(directory: Path) -> Certificate:
    """A fresh certificate for ``127.0.0.1`` and ``localhost``, written under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate = Certificate(directory / "smtp-cert.pem", directory / "smtp-key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", f"subjectAltName=DNS:localhost,IP:{HOST}"),
            *("-keyout", str(certificate.key_file), "-out", str(certificate.cert_file)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return certificate


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One accepted mail: who the client said it was from and to, and what it sent."""

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes
    login: str  # the user the client logged in as; empty when it did not

    def message(self) -> EmailMessage:
        """The mail as a reader sees it (headers decoded, parts walkable)."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Refusal:
    code: int
    times: int | None  # None: every time


class _Handler:
    """aiosmtpd's hooks, called on the server's thread; state is shared under a lock."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.lock = threading.Lock()
        self.received: list[ReceivedMail] = []
        self.refusals: dict[str, _Refusal] = {}
        self.refused: list[tuple[str, int]] = []

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        accepted = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        if not accepted:  # not "handled": aiosmtpd then answers 535 itself
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data.login.decode())

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.user and not session.authenticated:
            return "530 5.7.0 Authentication required"
        with self.lock:
            refusal = self.refusals.get(address.lower())
            if refusal is not None and refusal.times != 0:
                if refusal.times is not None:
                    refusal.times -= 1
                self.refused.append((address, refusal.code))
                return _ANSWERS[refusal.code]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            data=content,
            login=str(session.auth_data or "") if session.authenticated else "",
        )
        with self.lock:
            self.received.append(mail)
        return "250 2.0.0 Message accepted"


class _SocketController(Controller):
    """aiosmtpd's controller on a socket bound before it starts: no port race with others."""

    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1], **kwargs)
        self._socket = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._socket, ssl=self.ssl_context
        )


class SmtpSink:
    """A loopback SMTP server keeping what it receives; use as a context manager."""

    def __init__(
        self,
        security: Security = Security.NONE,
        *,
        certificate: Certificate | None = None,
        user: str = "",
        password: str = "",
    ) -> None:
        if security is not Security.NONE and certificate is None:
            raise ValueError(f"a {security} sink needs a certificate (make_certificate)")
        self.security = security
        self.certificate = certificate
        self.user, self.password = user, password
        self._handler = _Handler(user, password)
        self._controller: _SocketController | None = None
        self.port = 0

    def start(self) -> SmtpSink:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        tls = self.certificate.server_context() if self.certificate is not None else None
        options: dict[str, Any] = {"server_hostname": "localhost"}
        if self.user:
            # AUTH only over TLS: after STARTTLS, or from the first byte on implicit TLS
            # (which aiosmtpd cannot tell, hence not requiring it there).
            options["authenticator"] = self._handler.authenticate
            options["auth_require_tls"] = self.security is not Security.TLS
        if self.security is Security.STARTTLS:
            options.update(tls_context=tls, require_starttls=True)
        elif self.security is Security.TLS:
            options["ssl_context"] = tls
        self._controller = _SocketController(self._handler, sock, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def mailbox_fields(self) -> dict[str, Any]:
        """The ``smtp_*`` fields of a :class:`~services.email_adapter.config.Mailbox`
        that sends through this sink."""
        return {
            "smtp_host": HOST,
            "smtp_port": self.port,
            "smtp_security": self.security,
            "smtp_user": self.user,
            "smtp_password": self.password,
        }

    def refuse(self, recipient: str, code: int, *, times: int | None = None) -> None:
        """Answer RCPT for ``recipient`` with ``code`` (451 or 550), ``times`` times
        (None: always); afterwards it is accepted again."""
        if code not in _ANSWERS:
            raise ValueError(f"the sink answers {sorted(_ANSWERS)}, not {code}")
        with self._handler.lock:
            self._handler.refusals[recipient.lower()] = _Refusal(code, times)

    @property
    def received(self) -> list[ReceivedMail]:
        """Every mail accepted so far, in order."""
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def refused(self) -> list[tuple[str, int]]:
        """Every (recipient, code) the sink refused so far, in order."""
        with self._handler.lock:
            return list(self._handler.refused)

    def messages_to(self, address: str) -> list[EmailMessage]:
        """The mails delivered to ``address``, as its mail client would show them."""
        wanted = address.lower()
        return [
            mail.message()
            for mail in self.received
            if wanted in (recipient.lower() for recipient in mail.recipients)
        ]

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedMail]:
        """The first ``count`` mails, once that many have arrived; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(received := self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(received)} of {count} mails arrived in {timeout}s")
            await asyncio.sleep(0.05)
        return received[:count]
