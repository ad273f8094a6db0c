"""Real mail servers for the email channel tests: a private dovecot (IMAP) and aiosmtpd (SMTP).

Dovecot is Debian's ``dovecot-imapd`` (``scripts/setup`` installs it with
``CONCIERGE_SETUP_TESTS=1``). Each test gets its own instance: config, passwd-file user,
Maildir, base and state dirs in a fresh temp dir, plaintext login on 127.0.0.1 on a free
port. As root, dovecot will not run its login and mail processes as root, so they run as
the system ``dovenull``/``dovecot`` users and the temp dir is made world-traversable;
otherwise everything runs as the current user.

The SMTP server is ``aiosmtpd``'s controller in a thread, with a handler that keeps every
message's exact bytes and can be told to answer the next DATA commands with an error.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
IMAP_USER = "hello@mariia-hub.test"
IMAP_PASSWORD = "imap-secret-123"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """A running private dovecot: where it listens and how to put mail in its INBOX."""

    host: str
    port: int
    user: str
    password: str
    root: Path

    def imap(self) -> imaplib.IMAP4:
        """A logged-in stdlib IMAP client (an independent client to check the server's state)."""
        client = imaplib.IMAP4(self.host, self.port)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes, flags: str | None = None) -> int:
        """Put a mail into INBOX with IMAP APPEND; its UID."""
        client = self.imap()
        try:
            status, data = client.append("INBOX", flags, None, raw)
            assert status == "OK", data
            text = data[0].decode() if data and isinstance(data[0], bytes) else ""
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))
        finally:
            client.logout()

    def flags(self) -> dict[int, set[str]]:
        """Each INBOX message's flags by UID."""
        client = self.imap()
        try:
            client.select("INBOX")
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK", data
            result: dict[int, set[str]] = {}
            for line in data:
                if not isinstance(line, bytes):
                    continue
                text = line.decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (", 1)[1].split(")", 1)[0].split()
                result[uid] = set(flags)
            return result
        finally:
            client.logout()


def _dovecot_config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        login_user, internal_user, internal_group = "dovenull", "dovecot", "dovecot"
        mail_uid, mail_gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
    else:
        login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        internal_group = grp.getgrgid(os.getgid()).gr_name
        mail_uid, mail_gid = os.getuid(), os.getgid()
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextlib.contextmanager
def running_dovecot(user: str = IMAP_USER, password: str = IMAP_PASSWORD) -> Iterator[Dovecot]:
    """Start a private dovecot in a temp dir; stop it and remove the dir afterwards."""
    if not os.path.exists(DOVECOT):
        raise RuntimeError("dovecot is not installed: run CONCIERGE_SETUP_TESTS=1 scripts/setup")
    root = Path(tempfile.mkdtemp(prefix="concierge-dovecot-"))
    root.chmod(0o755)  # dovecot's own users must reach the passwd file and sockets
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        dovecot_user = pwd.getpwnam("dovecot")
        for sub in ("mail", "home"):
            os.chown(root / sub, dovecot_user.pw_uid, dovecot_user.pw_gid)
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n")
    (root / "passwd").chmod(0o644)
    port = free_port()
    (root / "dovecot.conf").write_text(_dovecot_config(root, port))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for_imap(port, process, root)
        yield Dovecot("127.0.0.1", port, user, password, root)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_imap(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited with {process.returncode}: {log[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            if sock.recv(100).startswith(b"* OK"):
                return
        time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening within 15 s")


@dataclass
class Received:
    """One message the SMTP server accepted: the envelope and the exact DATA bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps accepted messages; answers the next ``fail_next`` DATAs with ``failure``."""

    received: list[Received] = field(default_factory=list)
    fail_next: int = 0
    failure: str = "451 4.3.0 Try again later"
    refused: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return self.failure
        data = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(data)))
        return "250 2.0.0 OK: queued"


@contextlib.contextmanager
def running_smtp(**smtp_options: Any) -> Iterator[tuple[Controller, RecordingHandler]]:
    """aiosmtpd on a free loopback port with a :class:`RecordingHandler`; ``smtp_options`` go to
    aiosmtpd's ``SMTP`` (``tls_context``, ``require_starttls``, ``authenticator``, ...)."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 made with the openssl CLI: (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
