"""Parameters read from constructor signatures (scikit-learn's convention), checked from a declarative table.

A class's parameters are the named arguments of its ``__init__``; a subclass whose ``__init__`` takes
``**params`` also has its parents' (so QuaSID lists its switches and every RQ-VAE parameter). The type
of each comes from its annotation; a class may narrow values further with ``constraints``
({name: constraint}), e.g. ``{"steps": at_least(1), "gradient": one_of(GRADIENT_ESTIMATORS)}``.

Tokenizers and objectives both use this, and so does the command line, which builds one typed flag per
parameter from the same table: a parameter added to a constructor is a flag, checked, with no other edit.
"""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

from sidkit.errors import SidkitError

Constraint = Callable[[Any], "str | None"]  # None when the value is fine, else what was expected


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    kind: type | None       # bool, int, float, str, list (a tuple or list annotation), dict; None: not typed
    item: type | None       # element type of a list parameter
    optional: bool          # None is a valid value

    def check(self, value: Any) -> str | None:
        """What was expected, if ``value`` does not fit this parameter's type; else None."""
        if self.kind is None or (value is None and self.optional):
            return None
        if value is not None and _is_a(value, self.kind) and not (
                self.kind is list and self.item is not None and not all(_is_a(v, self.item) for v in value)):
            return None
        return f"list of {self.item.__name__}" if self.kind is list and self.item else self.kind.__name__


def _is_a(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, kind)


def _kind(hint: Any) -> tuple[type | None, type | None, bool]:
    """(kind, item, optional) of an annotation: ``list[float] | None`` → (list, float, True)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    if optional and len(args) == 1:
        hint = args[0]
    origin = typing.get_origin(hint) or hint
    if origin in (list, tuple):
        items = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return list, (items[0] if items and isinstance(items[0], type) else None), optional
    if origin is dict:
        return dict, None, optional
    return (origin if origin in (bool, int, float, str) else None), None, optional


@lru_cache(maxsize=None)
def params_of(cls: type) -> dict[str, Param]:
    """Every constructor parameter of ``cls`` (its own first, then its parents' through ``**params``),
    less the names in the class's ``fixed_params`` (set by the class itself, not by a user)."""
    fixed = set(getattr(cls, "fixed_params", ()))
    out: dict[str, Param] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        hints = typing.get_type_hints(init)
        signature = inspect.signature(init)
        for p in list(signature.parameters.values())[1:]:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in out or p.name in fixed:
                continue
            kind, item, optional = _kind(hints.get(p.name))
            default = None if p.default is inspect.Parameter.empty else p.default
            out[p.name] = Param(p.name, default, kind, item, optional or default is None)
        if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    return out


def constraints_of(cls: type) -> dict[str, Constraint]:
    """The class's ``constraints`` table merged with its parents' (a subclass adds to or overrides them)."""
    out: dict[str, Constraint] = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("constraints", {}))
    return out


def check_params(owner: str, cls: type, params: dict[str, Any]) -> None:
    """Refuse an unknown name, a value of the wrong type, or one outside the class's ``constraints``."""
    known = params_of(cls)
    constraints = constraints_of(cls)
    for name, value in params.items():
        if name not in known:
            raise SidkitError(f"{owner} has no parameter {name!r}; expected one of {', '.join(sorted(known))}")
        expected = known[name].check(value)
        if expected is None and value is not None and name in constraints:
            expected = constraints[name](value)
        if expected is not None:
            raise SidkitError(f"{owner}: parameter {name}={json.dumps(value, default=str)}: expected {expected}")


def at_least(low: float) -> Constraint:
    return lambda v: None if v >= low else f"at least {low}"


def between(low: float, high: float) -> Constraint:
    return lambda v: None if low <= v <= high else f"between {low} and {high}"


def positive(v: float) -> str | None:
    return None if v > 0 else "a positive number"


class one_of:  # noqa: N801 - reads as a constraint, like the functions beside it
    """A value among ``options`` (the command line offers them as choices)."""

    def __init__(self, options: Iterable[str]) -> None:
        self.options = tuple(options)

    def __call__(self, v: Any) -> str | None:
        return None if v in self.options else f"one of {', '.join(self.options)}"


class some_of(one_of):  # noqa: N801
    """A list of values among ``options``."""

    def __call__(self, v: Any) -> str | None:
        return next((f"some of {', '.join(self.options)} (not {x!r})" for x in v if x not in self.options), None)
