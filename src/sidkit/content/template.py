"""One text per item from a template over its fields.

A template names fields in braces; a part in square brackets is dropped when every field inside it is
empty, so ``"{title}[. Brand: {brand}]"`` gives ``"Pump"`` rather than ``"Pump. Brand: "`` for an item
without a brand. A bracketed field the catalogue does not have at all is empty for every item (new
uploads often carry only a title); an unbracketed one is an error.

The template is parsed once and rendered by concatenation. Item text is never formatted: a title such
as ``Widget {assorted}`` or ``{title.__class__}`` is copied as it is, not evaluated.
"""

from __future__ import annotations

import re
import string
import warnings
from dataclasses import dataclass

from sidkit.errors import SidkitError, SidkitWarning

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_SPACE = re.compile(r"\s+")
_DOTS = re.compile(r"\.(\s*\.)+(?!\.)")  # "Kit.. Brand" from a title ending in a period

Part = tuple[str, str]  # ("text", literal) or ("field", name)


@dataclass(frozen=True)
class Template:
    parts: tuple[tuple[bool, tuple[Part, ...]], ...]  # (optional, parts) groups in order

    @property
    def fields(self) -> list[str]:
        return [v for _, parts in self.parts for kind, v in parts if kind == "field"]

    @property
    def required(self) -> list[str]:
        return [v for optional, parts in self.parts if not optional for kind, v in parts if kind == "field"]


def _parse_plain(template: str, piece: str) -> tuple[Part, ...]:
    out: list[Part] = []
    try:
        parsed = list(string.Formatter().parse(piece))
    except ValueError as e:  # an unmatched brace
        raise SidkitError(f"text template {template!r}: {e}; expected fields as {{name}} (braces doubled "
                          "to be literal)") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            out.append(("text", literal))
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise SidkitError(f"text template {template!r}: field {{{name}{'!' + conversion if conversion else ''}"
                              f"{':' + spec if spec else ''}}}; expected a plain field name such as {{title}}")
        out.append(("field", name))
    return tuple(out)


def parse_template(template: str) -> Template:
    groups, at = [], 0
    for m in _OPTIONAL.finditer(template):
        if m.start() > at:
            groups.append((False, _parse_plain(template, template[at:m.start()])))
        groups.append((True, _parse_plain(template, m.group(1))))
        at = m.end()
    if at < len(template):
        groups.append((False, _parse_plain(template, template[at:])))
    parsed = Template(tuple(groups))
    if not parsed.fields:
        raise SidkitError(f"text template {template!r} names no field; expected e.g. '{{title}}'")
    return parsed


def render_texts(template: str, fields: dict[str, list[str]], max_chars: int = 2000) -> list[str]:
    """Render ``template`` for every row of ``fields``; an unknown field outside brackets is an error."""
    parsed = parse_template(template)
    missing = [n for n in parsed.required if n not in fields]
    if missing:
        raise SidkitError(
            f"text template {template!r}: field '{missing[0]}' is not in the catalogue; "
            f"expected one of {sorted(fields)}"
        )
    absent = sorted({n for n in parsed.fields if n not in fields})
    if absent:
        warnings.warn(f"text template {template!r}: optional field(s) {', '.join(absent)} not in the items; "
                      "treated as empty", SidkitWarning, stacklevel=2)
    present = [n for n in parsed.fields if n in fields]
    if not present:
        raise SidkitError(f"text template {template!r}: none of its fields is in the catalogue; "
                          f"expected one of {sorted(fields)}")
    n = len(fields[present[0]])
    out = []
    for i in range(n):
        row = {k: (fields[k][i] or "").strip() if k in fields else "" for k in parsed.fields}
        pieces = []
        for optional, parts in parsed.parts:
            if optional and not any(row[v] for kind, v in parts if kind == "field"):
                continue
            pieces.extend(row[v] if kind == "field" else v for kind, v in parts)
        out.append(_DOTS.sub(".", _SPACE.sub(" ", "".join(pieces))).strip()[:max_chars])
    return out
