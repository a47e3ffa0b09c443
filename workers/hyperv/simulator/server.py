"""The HTTP(S) server: WinRM at ``/wsman`` and the simulator's control API at ``/_hvsim/``.

Both need the same Basic credentials. ``ThreadingHTTPServer`` gives each connection a thread;
shared host state is guarded by ``Host.lock``, shells by ``ShellTable``'s own lock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wsman
from .control import handle_control
from .execution import HostRuntime
from .faults import FaultBook
from .hyperv.model import Host
from .latency import Latency
from .ntlm import CONTENT_TYPE as ENCRYPTED_CONTENT_TYPE
from .ntlm import SCHEMES as NTLM_SCHEMES
from .ntlm import NtlmAccounts, NtlmConnection, NtlmRejected, is_encrypted
from .options import SimulatorOptions
from .shells import Command, Shell, ShellTable
from .tls import server_context

SAVE_INTERVAL_SECONDS = 0.25
CONTROL_PREFIX = "/_hvsim/"  # the control API (control.py); everything else but /wsman is 404


class DropConnection(Exception):
    """Close the connection without answering (an injected fault)."""


class Simulator:
    """One simulated host: state, shells, faults, and the listening socket."""

    def __init__(self, options: SimulatorOptions):
        self.options = options
        host = Host.load(options.host_config, options.state_file) if options.state_file else Host(options.host_config)
        self.runtime = HostRuntime(host, Latency(options.latency, options.time_scale), FaultBook(options.seed))
        for rule in options.faults:
            self.runtime.faults.add(rule)
        self.shells = ShellTable(options.max_shells_per_user)
        self.ntlm_accounts = NtlmAccounts(options.user, options.password)
        self._server: ThreadingHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._ssl = (
            server_context(options.cert, options.key, options.host_config.computer_name) if options.tls else None
        )
        self._stopping = threading.Event()
        self._save_lock = threading.Lock()
        self._listening = threading.Lock()
        self._saver = threading.Thread(target=self._save_loop, name="hvsim-saver", daemon=True)
        self.port = options.port

    @property
    def host(self) -> Host:
        return self.runtime.host

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.options.host}:{self.port}/wsman"

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        self._listen()
        self._saver.start()
        return self.url

    def _listen(self) -> None:
        server = _Server((self.options.host, self.port), _Handler)
        server.simulator = self
        if self._ssl is not None:
            server.socket = self._ssl.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = server.server_address[1]
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="hvsim-http", daemon=True
        )
        self._serve_thread.start()

    def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()

    def stop(self) -> None:
        """Stop listening, cancel running commands, and save the state."""
        self._stopping.set()
        with self._listening:
            self._unlisten()
        self.shells.clear()
        self.save()
        self.ntlm_accounts.close()

    def save(self) -> None:
        if self.options.state_file:
            with self._save_lock:
                self.host.save(self.options.state_file)

    def _save_loop(self) -> None:
        while not self._stopping.wait(SAVE_INTERVAL_SECONDS):
            if self.host.dirty:
                try:
                    self.save()
                except OSError as error:
                    print(f"hvsim: cannot save state: {error}", file=sys.stderr, flush=True)

    def outage(self, seconds: float) -> None:
        """Stop listening for a while (connections are refused), then listen again on the same port."""

        def run() -> None:
            with self._listening:
                self._unlisten()
                if self._stopping.wait(seconds):
                    return
                self._listen()

        threading.Thread(target=run, name="hvsim-outage", daemon=True).start()

    def restart(self) -> None:
        """Like a restart of the simulator process: shells are gone, state is what the file holds."""
        self.save()
        self.shells.clear()
        config = self.options.host_config
        self.runtime.host = (
            Host.load(config, self.options.state_file) if self.options.state_file else Host(config, self.host.state)
        )

    # --- WinRM --------------------------------------------------------------------------------
    def handle_wsman(self, body: bytes) -> tuple[int, bytes]:
        request = None
        try:
            request = wsman.parse_request(body)
            delay = self.runtime.faults.request_delay()
            if delay:
                time.sleep(delay)
            rule = self.runtime.faults.for_request(request.action)
            if rule is not None:
                if rule.kind == "drop":
                    raise DropConnection()
                return HTTPStatus.INTERNAL_SERVER_ERROR, b""
            return HTTPStatus.OK, self._dispatch(request)
        except wsman.WSManFault as fault:
            return HTTPStatus.INTERNAL_SERVER_ERROR, wsman.fault_response(request, fault)
        except (DropConnection, _PlainError):
            raise
        except Exception as error:  # a simulator bug: answer a fault that names it, and log it
            traceback.print_exc(file=sys.stderr)
            fault = wsman.WSManFault(2150858752, f"hvsim internal error: {type(error).__name__}: {error}")
            return HTTPStatus.INTERNAL_SERVER_ERROR, wsman.fault_response(request, fault)

    def _dispatch(self, request: wsman.Request) -> bytes:
        if request.resource_uri != wsman.CMD_RESOURCE_URI:
            raise wsman.WSManFault(
                wsman.INVALID_RESOURCE_URI_CODE,
                f"The WS-Management service cannot process the request. The resource URI ({request.resource_uri}) "
                "is not served by the Hyper-V simulator, which speaks only the cmd shell (WinRS), not PSRP.",
                subcode="w:DestinationUnreachable",
                sender=True,
            )
        if request.action == "Create":
            codepage_text = request.options.get("WINRS_CODEPAGE") or "437"
            if not codepage_text.isdigit():
                raise wsman.WSManFault(
                    2150858817,
                    f"The WS-Management service cannot process the request: WINRS_CODEPAGE {codepage_text!r} is "
                    "not a code page number.",
                    subcode="w:InvalidOptions",
                    sender=True,
                )
            shell = self.shells.create(int(codepage_text))
            return wsman.create_response(request, shell.id, self.url)
        shell = self.shells.get(request.shell_id)
        if shell is None:
            raise wsman.shell_not_found(request.shell_id or "")
        if request.action == "Command":
            text, command_id = wsman.command_line(request)
            command = Command((command_id or str(uuid.uuid4())).upper(), text)
            shell.commands[command.id] = command
            command.start(self.runtime, shell.codepage)
            return wsman.command_response(request, command.id)
        if request.action == "Receive":
            return self._receive(request, shell)
        if request.action == "Signal":
            command_id, _code = wsman.signal(request)
            command = shell.commands.pop((command_id or "").upper(), None)
            if command is not None:
                command.cancelled.set()  # terminate and ctrl_c both stop the command
            return wsman.signal_response(request)
        if request.action == "Delete":
            self.shells.delete(shell.id)
            return wsman.delete_response(request)
        raise wsman.WSManFault(
            2150858752,
            f"The WS-Management service does not support the action {request.action_uri}.",
            subcode="a:ActionNotSupported",
            sender=True,
        )

    def _receive(self, request: wsman.Request, shell: Shell) -> bytes:
        command_id = wsman.receive_command_id(request) or ""
        command = shell.commands.get(command_id.upper())
        if command is None:
            raise wsman.WSManFault(
                wsman.SHELL_NOT_FOUND_CODE,
                f"The request for the Windows Remote Shell with ShellId {shell.id} "
                f"failed because the command {command_id} was not found.",
                subcode="w:InvalidSelectors",
                sender=True,
            )
        if not command.done.wait(request.operation_timeout):
            raise wsman.WSManFault(wsman.TIMED_OUT_CODE, wsman.TIMED_OUT_TEXT, subcode="w:TimedOut")
        outcome = command.outcome
        assert outcome is not None
        rule, outcome.transport_fault = outcome.transport_fault, None
        if rule is not None:
            if rule.kind == "drop":
                raise DropConnection()
            raise _PlainError()
        stdout, stderr, finished = command.next_output(wsman.receive_budget(request))
        return wsman.receive_response(request, command.id, stdout, stderr, outcome.exit_code if finished else None)


class _PlainError(Exception):
    """Answer HTTP 500 with an empty body (an injected fault)."""


class _Server(ThreadingHTTPServer):
    """Keeps its open connections, so an outage can cut kept-alive clients off too."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    simulator: Simulator

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms for an ACK
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.simulator.options.verbose:
            super().log_message(format, *args)

    _ntlm: NtlmConnection | None = None

    def _authorized(self, *, ntlm: bool = False) -> bool | bytes:
        """True for good Basic credentials, or for a connection NTLM has authenticated (``ntlm``
        only: WinRM at /wsman). Mid-handshake, the NTLM token to answer with a 401."""
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if ntlm and scheme.lower() in NTLM_SCHEMES:
            if self._ntlm is None:
                self._ntlm = NtlmConnection(self.server.simulator.ntlm_accounts)
            try:
                answer = self._ntlm.step(scheme, encoded.strip())
            except NtlmRejected:
                return False
            return True if answer is None else answer
        if ntlm and not header and self._ntlm is not None and self._ntlm.authenticated:
            return True
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        options = self.server.simulator.options
        return hmac.compare_digest(user.lower(), options.user.lower()) and hmac.compare_digest(
            password, options.password
        )

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, *, challenge: bytes | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if challenge is not None:
            scheme = self._ntlm.scheme if self._ntlm is not None else "Negotiate"
            self.send_header("WWW-Authenticate", f"{scheme} {base64.b64encode(challenge).decode()}")
        elif status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        body = self._body()
        path = urllib.parse.urlsplit(self.path).path
        is_wsman = path.rstrip("/").lower() == "/wsman"
        authorized = self._authorized(ntlm=is_wsman)
        if authorized is not True:
            challenge = authorized if isinstance(authorized, bytes) else None
            if challenge is None:
                self._ntlm = None
            self._send(HTTPStatus.UNAUTHORIZED, b"", "text/plain", challenge=challenge)
            return
        simulator = self.server.simulator
        if path.startswith(CONTROL_PREFIX):
            answer = handle_control(simulator, method, path[len(CONTROL_PREFIX) :], body)
            self._send(answer.status, json.dumps(answer.payload).encode("utf-8"), "application/json")
            if answer.then is not None:
                self.wfile.flush()
                answer.then()
            return
        if not is_wsman:
            self._send(HTTPStatus.NOT_FOUND, b"", "text/plain")
            return
        if method != "POST":
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain")
            return
        ntlm = self._ntlm is not None and self._ntlm.authenticated
        encrypted = ntlm and is_encrypted(self.headers.get("Content-Type", ""))
        if ntlm and not body:  # pywinrm's empty POST that sets up the security context
            self._send(HTTPStatus.OK, b"", "text/plain")
            return
        if ntlm and not encrypted and simulator._ssl is None:
            # WinRM's default AllowUnencrypted=false: NTLM over HTTP must encrypt (HTTPS need not).
            self._send(HTTPStatus.BAD_REQUEST, b"", "text/plain")
            return
        if encrypted:
            assert self._ntlm is not None
            try:
                body = self._ntlm.decrypt(body)
            except NtlmRejected:
                self._ntlm = None
                self._send(HTTPStatus.UNAUTHORIZED, b"", "text/plain")
                return
        try:
            status, answer = simulator.handle_wsman(body)
        except (DropConnection, _PlainError) as fault:
            if isinstance(fault, _PlainError):
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"", "text/plain")
                return
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        content_type = "application/soap+xml;charset=UTF-8" if answer else "text/plain"
        if encrypted and answer:
            assert self._ntlm is not None
            answer, content_type = self._ntlm.encrypt(answer), ENCRYPTED_CONTENT_TYPE
        self._send(status, answer, content_type)

    def do_POST(self) -> None:  # noqa: N802 (the http.server naming)
        self._handle("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")
