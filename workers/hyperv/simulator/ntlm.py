"""NTLM authentication with message encryption, as WinRM over HTTP (5985) does it.

docs/winrm.md, "HTTP": "Message encryption exists only for NTLM, Kerberos and CredSSP over plain
HTTP"; "NTLM with encryption is what most production users run (`transport="ntlm"` to port 5985).
A server side could be built on pyspnego's acceptor." This is that acceptor.

The handshake is per TCP connection: the client's first request gets 401 with
``WWW-Authenticate: Negotiate``, it answers with an NTLM NEGOTIATE token, hvsim answers 401 with a
CHALLENGE, the client sends AUTHENTICATE with the request again. From then on, every request on
that connection may carry a ``multipart/encrypted`` body with the protocol
``application/HTTP-SPNEGO-session-encrypted`` ([MS-WSMV] 2.2.9.1.1, the format pywinrm's
``winrm/encryption.py`` writes), and hvsim answers in the same form.

pyspnego's NTLM acceptor reads the accounts it accepts from the file named by the environment
variable ``NTLM_USER_FILE`` (smbpasswd format), looked up during ``step``; every step runs under
one lock with the variable pointing at this simulator's file.
"""

from __future__ import annotations

import base64
import os
import struct
import tempfile
import threading

import spnego
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the hashes the acceptor compares against
from spnego.exceptions import SpnegoError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
SCHEMES = ("negotiate", "ntlm")

_STEP_LOCK = threading.Lock()


class NtlmRejected(Exception):
    """The client's token or encrypted body is not acceptable: answer 401."""


class NtlmAccounts:
    """The one account hvsim accepts, kept in an smbpasswd file for pyspnego's acceptor."""

    def __init__(self, user: str, password: str):
        fd, self.path = tempfile.mkstemp(prefix="hvsim-ntlm-", suffix=".txt")
        lm_hash = base64.b16encode(lmowfv1(password)).decode()
        nt_hash = base64.b16encode(ntowfv1(password)).decode()
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{user}:0:{lm_hash}:{nt_hash}:[U]:LCT-00000000\n")

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass


class NtlmConnection:
    """The NTLM state of one HTTP connection (one ``_Handler`` instance)."""

    def __init__(self, accounts: NtlmAccounts):
        self._accounts = accounts
        self._context: spnego.ContextProxy | None = None
        self.scheme = "Negotiate"

    @property
    def authenticated(self) -> bool:
        return self._context is not None and self._context.complete

    def step(self, scheme: str, token_b64: str) -> bytes | None:
        """Take one token of the handshake; return the answer token, or None once complete."""
        try:
            token = base64.b64decode(token_b64, validate=True)
        except ValueError:
            raise NtlmRejected("the token is not base64")
        is_negotiate = token[8:12] == b"\x01\x00\x00\x00"
        if is_negotiate or self._context is None:
            self._context = None
            self.scheme = "NTLM" if scheme.lower() == "ntlm" else "Negotiate"
        with _STEP_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self._accounts.path
            try:
                if self._context is None:
                    self._context = spnego.server(protocol="ntlm")
                answer = self._context.step(token)
            except SpnegoError as error:
                self._context = None
                raise NtlmRejected(str(error))
            finally:
                if previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = previous
        return answer if not self._context.complete else None

    # --- message encryption ([MS-WSMV] 2.2.9.1.1, as pywinrm's encryption.py frames it) ----------
    def decrypt(self, body: bytes) -> bytes:
        if not self.authenticated:
            raise NtlmRejected("an encrypted message before authentication")
        assert self._context is not None
        message = b""
        parts = [part for part in body.split(BOUNDARY + b"\r\n") if part]
        if len(parts) < 2 or len(parts) % 2:
            raise NtlmRejected("the encrypted body is not two MIME parts per message")
        for header, payload in zip(parts[::2], parts[1::2], strict=True):
            try:
                length = int(header.split(b"Length=")[1].strip())
            except (IndexError, ValueError):
                raise NtlmRejected("the encrypted part has no OriginalContent length")
            payload = payload.removesuffix(BOUNDARY + b"--\r\n")
            data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            signature_length = struct.unpack("<i", data[:4])[0]
            signature, sealed = data[4 : 4 + signature_length], data[4 + signature_length :]
            try:
                plain = self._context.unwrap(signature + sealed).data
            except SpnegoError as error:
                raise NtlmRejected(f"the message does not decrypt: {error}")
            if len(plain) != length:
                raise NtlmRejected("the decrypted length differs from OriginalContent")
            message += plain
        return message

    def encrypt(self, message: bytes) -> bytes:
        assert self._context is not None
        wrapped = self._context.wrap(message, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        return (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature))
            + signature
            + sealed
            + BOUNDARY
            + b"--\r\n"
        )


def is_encrypted(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/encrypted") and PROTOCOL.lower() in content_type.lower()
