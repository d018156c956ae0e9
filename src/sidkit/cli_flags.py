"""Command-line flags generated from a class's constructor (sidkit.params), and read back.

One flag per parameter, typed from its annotation:
- a bool that defaults to True is an ablation switch ``--no-NAME``; one that defaults to False is ``--NAME``;
- a number or a string is ``--NAME VALUE`` (choices from a ``one_of`` constraint);
- a list is ``--NAME a,b,c``; if its default is empty, ``--SINGULAR X`` adds one (``--objective hamr``);
  if it is constrained to ``some_of`` a set, ``--no-SINGULAR X`` drops one (``--no-view u2u``);
- a method with plug-in objectives also gets every objective's on-by-default switch (``--no-cvpm``),
  which reaches the objectives in use that have it.
``--param NAME=VALUE`` (JSON, or a bare word) and ``--param OBJECTIVE.NAME=VALUE`` reach any parameter.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sidkit.errors import SidkitError
from sidkit.params import Param, check_params, constraints_of, one_of, params_of, some_of

COMMON = ("levels", "codebook_size", "seed")  # every method has them; their flags come first


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def _objective_switches(cls: type) -> dict[str, list[str]]:
    """{switch: objectives that have it}: the on-by-default bools of every plug-in objective, for a
    method that takes ``objectives`` (a user who attaches hamr to rqvae can still turn its CVPM off)."""
    if "objectives" not in params_of(cls):
        return {}
    from sidkit.objectives import OBJECTIVES

    out: dict[str, list[str]] = {}
    for name, objective in OBJECTIVES.items():
        for p in params_of(objective).values():
            if p.kind is bool and p.default is True:
                out.setdefault(p.name, []).append(name)
    return out


def add_param_flags(parser: argparse.ArgumentParser, cls: type, title: str) -> None:
    """Flags for every constructor parameter of ``cls``, in a group named ``title``."""
    group = parser.add_argument_group(title)
    helps = getattr(cls, "param_help", {})
    params = params_of(cls)
    order = [n for n in COMMON if n in params] + [n for n in params if n not in COMMON]
    taken: set[str] = set()
    for name in order:
        p = params[name]
        extra = helps.get(name, "")
        for flag, kwargs in _flags_of(cls, p, extra):
            if flag in parser._option_string_actions:  # a parameter named like a command flag (e.g. --out)
                continue                               # is reached through --param NAME=VALUE instead
            group.add_argument(flag, default=argparse.SUPPRESS, **kwargs)
            taken.add(flag)
    for switch, owners in _objective_switches(cls).items():
        flag = _flag("no_" + switch)
        if flag not in taken:
            group.add_argument(flag, dest=f"objective_off:{switch}", action="store_true", default=argparse.SUPPRESS,
                               help=f"{switch}=False in the objectives in use that have it ({', '.join(owners)})")
    group.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="any parameter as JSON or a bare word" +
                            (", or OBJECTIVE.NAME=VALUE (e.g. hamr.margin_full=0.9)" if "objective_params" in params
                             else "") + "; repeatable")


def _flags_of(cls: type, p: Param, extra: str) -> list[tuple[str, dict[str, Any]]]:
    shown = json.dumps(p.default) if p.default is not None else "none"
    say = (extra + "; " if extra else "")
    constraint = constraints_of(cls).get(p.name)
    if p.kind is bool:
        if p.default is True:
            return [(_flag("no_" + p.name), {"dest": f"param:{p.name}", "action": "store_const",
                                                          "const": False, "help": say + f"{p.name}=False"})]
        return [(_flag(p.name), {"dest": f"param:{p.name}", "action": "store_const", "const": True,
                                 "help": say + f"{p.name}=True"})]
    if p.kind in (int, float, str):
        kwargs: dict[str, Any] = {"dest": f"param:{p.name}", "type": p.kind, "metavar": p.kind.__name__.upper(),
                                  "help": say + f"default {shown}"}
        if isinstance(constraint, one_of) and not isinstance(constraint, some_of):
            kwargs["choices"], kwargs["metavar"] = constraint.options, "{" + ",".join(constraint.options) + "}"
        return [(_flag(p.name), kwargs)]
    if p.kind is list:
        item = p.item if p.item in (int, float, str) else str
        out = [(_flag(p.name), {"dest": f"param:{p.name}", "type": _comma_list(item), "metavar": "A,B,...",
                                "help": say + f"comma-separated {item.__name__}s (default {','.join(map(str, p.default or [])) or 'none'})"})]
        one = _singular(p.name)
        if not p.default:
            out.append((_flag(one), {"dest": f"add:{p.name}", "action": "append", "metavar": "NAME",
                                     "help": f"add one to {p.name} (repeatable)"}))
        elif isinstance(constraint, some_of):
            out.append((_flag("no_" + one), {"dest": f"drop:{p.name}", "action": "append",
                                                          "metavar": "NAME",
                                                          "help": f"drop one of {', '.join(constraint.options)} "
                                                                  "(repeatable)"}))
        return out
    return []  # dicts and untyped values: through --param only


def _comma_list(item: type):
    def parse(text: str) -> list:
        try:
            return [item(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated {item.__name__} values") from None
    return parse


def param_value(text: str) -> Any:
    """A ``--param`` value: JSON, else the bare word."""
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare word, e.g. gradient=rotation


def split_specs(text: str) -> list[str]:
    """``a,b:x=1,y=2,c`` → [a, b:x=1,y=2, c]: a comma starts a new method unless it continues key=value."""
    out: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if out and "=" in part and ":" in out[-1] and ":" not in part:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def key_value(item: str, error: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → (key, value read by ``param_value``), the one reading of ``--param`` and of a
    method spec's values; ``error`` is the line to raise when ``item`` is not of that shape."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise SidkitError(error)
    return key, param_value(value)


def method_spec(spec: str, methods: dict[str, type] | None = None) -> tuple[str, dict[str, Any]]:
    """``name[:key=value,...]`` → (name, constructor values), values read as ``--param`` reads them. With
    ``methods``, a known name's values are checked against its constructor (an unknown name passes: a
    table can hold a row this sidkit does not have)."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, value = key_value(item, f"method {spec!r}: {item!r} is not KEY=VALUE; expected e.g. rq-kmeans:balance=true")
        params[key] = value
    if methods is not None and name in methods:
        check_params(f"method {spec!r}: {name}", methods[name], params)
    return name, params


def params_from_args(args: argparse.Namespace, cls: type, name: str) -> dict[str, Any]:
    """The constructor parameters the flags gave (only those given), checked against the class."""
    known = params_of(cls)
    given = vars(args)
    params: dict[str, Any] = {}
    objective_params: dict[str, dict[str, Any]] = {}
    for item in getattr(args, "param", []):
        key, value = key_value(item, f"--param {item!r}: expected NAME=VALUE (or OBJECTIVE.NAME=VALUE)")
        if "." in key and "objective_params" in known:
            objective, _, field = key.partition(".")
            objective_params.setdefault(objective, {})[field] = value
        elif key in known:
            params[key] = value
        else:
            raise SidkitError(f"--param {key}: not a parameter of {name}; expected one of {', '.join(sorted(known))}")
    for dest, value in given.items():
        if dest.startswith("param:"):
            params[dest[len("param:"):]] = value
    for dest, value in given.items():
        kind, _, pname = dest.partition(":")
        if kind == "add":
            params[pname] = list(params.get(pname, known[pname].default) or []) + value
        elif kind == "drop":
            options = constraints_of(cls)[pname].options
            for v in value:
                if v not in options:
                    raise SidkitError(f"{_flag('no_' + _singular(pname))} {v}: not a {name} "
                                      f"{_singular(pname)}; expected one of {', '.join(options)}")
            params[pname] = [v for v in params.get(pname, known[pname].default) if v not in value]
    switches = [dest.partition(":")[2] for dest in given if dest.startswith("objective_off:")]
    if switches:
        probe = cls(**params)
        in_use = probe.objective_names()
        from sidkit.objectives import OBJECTIVES

        for switch in switches:
            targets = [o for o in in_use if o in OBJECTIVES and switch in params_of(OBJECTIVES[o])]
            if not targets:
                owners = _objective_switches(cls)[switch]
                methods = methods_with(switch)
                raise SidkitError(f"{_flag('no_' + switch)}: no objective {name} uses here has {switch}; "
                                  f"expected --objective {' or --objective '.join(owners)}"
                                  + (f", or {', '.join(methods)}" if methods else ""))
            for objective in targets:
                objective_params.setdefault(objective, {})[switch] = False
    if objective_params:
        params["objective_params"] = {**params.get("objective_params", {}), **objective_params}
    check_params(name, cls, params)
    return params


def methods_with(param: str) -> list[str]:
    from sidkit.methods import METHODS

    return [m for m, c in sorted(METHODS.items()) if param in params_of(c)]


def flag_owners(flag: str) -> list[str]:
    """Methods whose ``sidkit fit`` takes ``flag`` (for the error when another method is given it)."""
    from sidkit.methods import METHODS

    owners = []
    for m, c in sorted(METHODS.items()):
        p = argparse.ArgumentParser(add_help=False)
        add_param_flags(p, c, "x")
        if flag in p._option_string_actions:  # argparse's own table of flags
            owners.append(m)
    return owners
