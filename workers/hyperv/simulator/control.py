"""The simulator's control API, for tests and demos (never part of a real host).

Routes under ``/_hvsim/``: ``GET state``, ``GET|POST|DELETE faults``, ``POST outage``,
``POST restart``, ``POST vms/<name or id>/guest-shutdown``. See the README, "Simulated hosts".
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .faults import FaultRule
from .hyperv.cmdlets_vm import guest_shutdown

if TYPE_CHECKING:
    from .server import Simulator


@dataclass
class Answer:
    status: int
    payload: Any
    then: Callable[[], None] | None = None  # runs after the answer is sent (an outage must not cut it off)


def handle_control(simulator: Simulator, method: str, route: str, body: bytes) -> Answer:
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return Answer(HTTPStatus.BAD_REQUEST, {"error": "the body is not JSON"})
    if not isinstance(payload, dict):
        return Answer(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
    route = route.strip("/")
    if route == "state" and method == "GET":
        return Answer(HTTPStatus.OK, simulator.host.to_dict())
    if route == "faults":
        return _faults(simulator, method, payload)
    if route == "outage" and method == "POST":
        seconds = payload.get("seconds")
        if not isinstance(seconds, (int, float)) or seconds <= 0:
            return Answer(HTTPStatus.BAD_REQUEST, {"error": "seconds must be a positive number"})
        return Answer(HTTPStatus.ACCEPTED, {"outage_seconds": seconds}, lambda: simulator.outage(float(seconds)))
    if route == "restart" and method == "POST":
        downtime = payload.get("downtime_seconds", 0) or 0
        if not isinstance(downtime, (int, float)) or downtime < 0:
            return Answer(HTTPStatus.BAD_REQUEST, {"error": "downtime_seconds must be a number >= 0"})
        simulator.restart()
        return Answer(
            HTTPStatus.OK, {"restarted": True}, (lambda: simulator.outage(float(downtime))) if downtime else None
        )
    parts = route.split("/")
    if len(parts) == 3 and parts[0] == "vms" and parts[2] == "guest-shutdown" and method == "POST":
        return _guest_shutdown(simulator, urllib.parse.unquote(parts[1]))
    return Answer(HTTPStatus.NOT_FOUND, {"error": f"no such control endpoint: {method} /_hvsim/{route}"})


def _faults(simulator: Simulator, method: str, payload: dict[str, Any]) -> Answer:
    faults = simulator.runtime.faults
    if method == "GET":
        return Answer(HTTPStatus.OK, {"faults": faults.describe()})
    if method == "DELETE":
        faults.clear()
        return Answer(HTTPStatus.OK, {"faults": []})
    if method == "POST":
        try:
            rule = faults.add(FaultRule.from_dict(payload))
        except (ValueError, TypeError) as error:
            return Answer(HTTPStatus.BAD_REQUEST, {"error": str(error)})
        return Answer(HTTPStatus.CREATED, {"id": rule.id})
    return Answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} /_hvsim/faults is not supported"})


def _guest_shutdown(simulator: Simulator, name_or_id: str) -> Answer:
    """The guest OS shut itself down: the VM is Off, and nothing told the caller."""
    host = simulator.host
    with host.lock:
        vms = [vm for vm in host.state.vms if vm.id == name_or_id.lower() or vm.name == name_or_id]
        for vm in vms:
            guest_shutdown(host, vm)
    if not vms:
        return Answer(HTTPStatus.NOT_FOUND, {"error": f"no VM named or with id {name_or_id!r}"})
    return Answer(HTTPStatus.OK, {"shut_down": [vm.id for vm in vms]})
