"""The backend interface: documented, and implemented by shipped backends."""

from __future__ import annotations

import inspect

import pytest

from clusterdash.backends import ClusterBackend
from clusterdash.backends.dask import DaskBackend, EmbeddedBackend

SHIPPED_BACKENDS = [DaskBackend, EmbeddedBackend]


def _public_members():
    return [
        (name, member)
        for name, member in vars(ClusterBackend).items()
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(member, property))
    ]


def _mandatory_names():
    names = []
    for name, member in _public_members():
        function = member.fget if isinstance(member, property) else member
        if "raise NotImplementedError" in inspect.getsource(function):
            names.append(name)
    return names


def test_interface_is_not_empty():
    names = [name for name, _ in _public_members()]
    assert "snapshot" in names
    assert "fetch_snapshot" in names
    assert "task_detail" in names
    assert "address" in _mandatory_names()
    assert "fetch_snapshot" in _mandatory_names()


@pytest.mark.parametrize("name", [name for name, _ in _public_members()], ids=str)
def test_public_member_has_docstring(name):
    member = vars(ClusterBackend)[name]
    assert inspect.getdoc(member), f"ClusterBackend.{name} has no docstring"


@pytest.mark.parametrize("backend_class", SHIPPED_BACKENDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", _mandatory_names(), ids=str)
def test_shipped_backend_overrides_mandatory(backend_class, name):
    implementation = inspect.getattr_static(backend_class, name)
    assert implementation is not vars(ClusterBackend)[name], (
        f"{backend_class.__name__} does not implement {name}"
    )


def test_async_twins_are_coroutines():
    twins = [
        name
        for name, _ in _public_members()
        if name.startswith("a") and name[1:] in vars(ClusterBackend)
    ]
    assert "asnapshot" in twins
    assert "atask_detail" in twins
    for name in twins:
        assert inspect.iscoroutinefunction(vars(ClusterBackend)[name]), name


def test_base_class_raises_not_implemented():
    backend = ClusterBackend({})
    with pytest.raises(NotImplementedError):
        backend.fetch_snapshot()
    with pytest.raises(NotImplementedError):
        backend.task_detail("x")
    assert backend.erred_tasks() == []
    assert backend.fetch_task_stream(5) == ([], 5)
