"""One text per item from a template over its fields.

A template is a Python format string over field names; a part in square brackets is dropped when every
field inside it is empty, so ``"{title}[. Brand: {brand}]"`` gives ``"Pump"`` rather than ``"Pump. Brand: "``
for an item without a brand.
"""

from __future__ import annotations

import re
import string

from sidkit.errors import SidkitError

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_SPACE = re.compile(r"\s+")
_DOTS = re.compile(r"\.(\s*\.)+(?!\.)")  # "Kit.. Brand" from a title ending in a period


def template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template.replace("[", "").replace("]", "")) if name]


def render_texts(template: str, fields: dict[str, list[str]], max_chars: int = 2000) -> list[str]:
    """Render ``template`` for every row of ``fields``; unknown field names are an error, not a blank."""
    names = template_fields(template)
    missing = [n for n in names if n not in fields]
    if missing:
        raise SidkitError(
            f"text template {template!r}: field '{missing[0]}' is not in the catalogue; "
            f"expected one of {sorted(fields)}"
        )
    if not names:
        raise SidkitError(f"text template {template!r} names no field; expected e.g. '{{title}}'")
    n = len(fields[names[0]])
    out = []
    for i in range(n):
        row = {k: (fields[k][i] or "").strip() for k in names}

        def keep(m: re.Match) -> str:
            inner = m.group(1)
            return inner.format(**row) if any(row[f] for f in template_fields(inner)) else ""

        text = _OPTIONAL.sub(keep, template).format(**row)
        out.append(_DOTS.sub(".", _SPACE.sub(" ", text)).strip()[:max_chars])
    return out
