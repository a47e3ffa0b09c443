"""One family of errors (config/errors.py): one root, domain errors declared in one module, the
driver's errors beside the drivers, and no two classes of the family with the same name."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import config
import labs
import tenants
import workers
from config import errors
from config.errors import DomainError, NestlabError, NetworkSetupError, PoolExhausted
from workers.hyperv import errors as hyperv_errors


def _family() -> list[type]:
    for package in (config, labs, tenants, workers):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations" not in info.name and ".simulator" not in info.name and info.name != "config.run":
                importlib.import_module(info.name)
    found, queue = [], [NestlabError]
    while queue:
        cls = queue.pop()
        found.append(cls)
        queue.extend(cls.__subclasses__())
    return found


def test_every_error_of_the_family_has_a_name_of_its_own():
    names = [cls.__name__ for cls in _family()]
    assert sorted(name for name in names if names.count(name) > 1) == []


def test_domain_errors_are_declared_in_config_errors_and_driver_errors_beside_the_drivers():
    modules = {cls.__name__: cls.__module__ for cls in _family()}
    assert {name for name, module in modules.items() if module != "config.errors"} == {
        name
        for name in vars(hyperv_errors)
        if isinstance(getattr(hyperv_errors, name), type)
        and issubclass(getattr(hyperv_errors, name), hyperv_errors.HypervisorError)
    }


def test_driver_errors_belong_to_the_family_but_are_no_domain_errors():
    # The API's handler answers DomainErrors with 4xx; a driver error reaching a view stays a 500.
    assert issubclass(hyperv_errors.HostUnreachable, NestlabError)
    assert not issubclass(hyperv_errors.HypervisorError, DomainError)
    assert hyperv_errors.HostUnreachable.transient and not hyperv_errors.HostError.transient


@pytest.mark.parametrize("error", [NetworkSetupError, PoolExhausted])
def test_network_setup_errors_are_permanent(error):
    assert not error.transient and issubclass(error, DomainError)


def test_config_errors_imports_nothing_but_the_standard_library():
    # The drivers (workers/hyperv, no Django) import it.
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "typing"}
