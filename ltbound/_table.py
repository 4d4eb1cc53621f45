"""One formatter for every text table of the project (library tables, scripts, checks, benchmarks).

:func:`format_table` lays out cells that the caller has already turned into strings: the
numbers and their rounding stay with the caller, the columns, padding and rules live here.
Widths count display columns, so the combining hats of R̂ and Q̂ take none.
"""

from __future__ import annotations

import textwrap
import unicodedata
from typing import Sequence

STYLES = ("plain", "markdown")


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: combining marks (the hat of R̂, Q̂) take none."""
    return sum(1 for ch in text if not unicodedata.combining(ch))


def pad(text: str, width: int, *, left: bool) -> str:
    """``text`` padded with spaces to ``width`` display columns, on the right (``left=True``) or the left."""
    fill = " " * (width - display_width(text))
    return text + fill if left else fill + text


def format_table(rows: Sequence[Sequence[object]], headers: Sequence[object] | None = None, *,
                 align: str = "l", sep: str = "  ", rule: str | None = "-", min_widths: Sequence[int] = (),
                 widths: Sequence[int] | None = None, indent: str = "", rstrip: bool = False,
                 rule_before: Sequence[int] = (), row_gap: bool = False, style: str = "plain") -> str:
    """Rows of cells as aligned text.

    Parameters
    ----------
    rows : sequence of sequences
        The body, one sequence of cells per row (``str()`` of each cell is printed).
    headers : sequence, optional
        The header row; with ``rule``, a rule line of dashes follows it.
    align : str
        'l' (left) or 'r' (right) per column; one letter applies to every column, a shorter
        string repeats its last letter.
    sep : str
        What stands between two columns.
    rule : str or None
        Character of the rule under the header (None: no rule).
    min_widths : sequence of int
        Each column is at least this wide (display columns).
    widths : sequence of int, optional
        Fixed column widths: a longer cell is wrapped within its column onto further lines
        (words kept whole where they fit; explicit newlines start a new line).
    indent : str
        Put before every line.
    rstrip : bool
        Strip trailing spaces from each line of the header and body.
    rule_before : sequence of int
        Body row indices before which a further rule line stands (e.g. above a total).
    row_gap : bool
        An empty line after every body row.
    style : {'plain', 'markdown'}
        'markdown': ``| a | b |`` rows under a ``|---|`` rule, no padding (the other layout
        options do not apply).

    Returns
    -------
    str
        The lines joined by newlines (no final newline).
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    head = None if headers is None else [str(h) for h in headers]
    body = [[str(c) for c in r] for r in rows]
    ncol = max([len(r) for r in body] + [len(head) if head else 0])
    if style == "markdown":
        lines = [] if head is None else ["| " + " | ".join(head) + " |", "|" + "---|" * ncol]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    aligns = (align + align[-1] * ncol)[:ncol]
    if widths is not None:
        cols = list(widths)
        cells = [[_wrap(c, w) for c, w in zip(r, cols)] for r in body]
    else:
        cols = [max([display_width(r[i]) for r in body if i < len(r)] + ([display_width(head[i])] if head and
                                                                           i < len(head) else [0]))
                for i in range(ncol)]
        cols = [max(w, m) for w, m in zip(cols, list(min_widths) + [0] * ncol)]
        cells = [[[c] for c in r] for r in body]

    def line(parts: Sequence[str]) -> str:
        text = indent + sep.join(pad(p, w, left=a == "l") for p, w, a in zip(parts, cols, aligns))
        return text.rstrip() if rstrip else text

    rule_line = None if rule is None else indent + sep.join(rule * w for w in cols)
    out = []
    if head is not None:
        out.append(line(head))
        if rule_line is not None:
            out.append(rule_line)
    for k, row in enumerate(cells):
        if k in rule_before and rule_line is not None:
            out.append(rule_line)
        for i in range(max((len(c) for c in row), default=1)):
            out.append(line([c[i] if i < len(c) else "" for c in row]))
        if row_gap:
            out.append("")
    return "\n".join(out)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(textwrap.wrap(para, width, break_long_words=True, break_on_hyphens=False) or [""])
    return lines
