"""A `HostView` as JSON and back, for the agent's watch on the server.

Generic over the view's frozen dataclasses: tuples become lists, frozensets sorted
lists; reading back rebuilds the same classes, so `view_from_dict(view_to_dict(v))
== v`.
"""

import dataclasses
import types
import typing

from .cloud import Host
from .view import (
    FipNamespaceView,
    FloatingIPView,
    HostView,
    NetworkView,
    PortView,
    RemotePort,
    RouterView,
)

CLASSES = {
    c.__name__: c
    for c in (
        Host,
        HostView,
        NetworkView,
        PortView,
        FloatingIPView,
        RouterView,
        FipNamespaceView,
        RemotePort,
    )
}


def view_to_dict(value):
    if dataclasses.is_dataclass(value):
        return {f.name: view_to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset):
        return sorted(view_to_dict(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [view_to_dict(v) for v in value]
    return value


def view_from_dict(data: dict) -> HostView:
    return _build(HostView, data)


def _build(cls, data):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint, value):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _convert(real[0], value) if len(real) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if origin is frozenset:
        return frozenset(_convert(args[0], v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    return value
