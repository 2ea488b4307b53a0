"""Values from outside the code (a file, a database row, a browser) read without letting them
crash anything: JSON with a bounded nesting, numbers that fit a float, and a short repr of any
value for a message.

A hand-edited run record or a hostile file can hold what the app never writes: nesting a
thousand levels deep (Python's recursion limit: `json.loads`, `repr` and `json.dumps` of it
raise RecursionError), an integer of 400 digits (`float()` and `math.isfinite` of it raise
OverflowError), a list where text belongs. The checks here turn all of that into ValueErrors
that say what is wrong, before any other code walks the value.
"""
from __future__ import annotations

import json
import reprlib
from typing import Any

#: Nesting deeper than this is refused: the deepest JSON this lab writes (a run's config:
#: config, spec, layers, layer) has 4 levels.
MAX_DEPTH = 16
#: The largest integer magnitude accepted in stored JSON: far beyond any count, seed or size
#: this lab records, and still exactly a float.
MAX_INTEGER = 2 ** 53

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 2          # [[[...]]]: never walks a deep value
_SHORT.maxstring = _SHORT.maxother = 40
_SHORT.maxlong = 24          # a 400-digit number shows as its first and last digits
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short(value: Any) -> str:
    """A repr of `value` for a message, bounded in length and depth whatever it is: a plain
    `str()` of a deeply nested list recurses until RecursionError, and of a huge one takes
    megabytes."""
    try:
        return _SHORT.repr(value)
    except (RecursionError, ValueError):   # ValueError: an int beyond Python's digit limit
        return f"<{type(value).__name__}>"


def is_number(value: Any) -> bool:
    """An int or float (not a bool: JSON's true is not 1) that converts to a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, float) or -MAX_INTEGER <= value <= MAX_INTEGER


def load_json(text: Any, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """`text` parsed as JSON; ValueError starting with `what` when it is not text, not JSON,
    nested deeper than `max_depth`, or holds an integer beyond MAX_INTEGER."""
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"{what} is not text but {type(text).__name__}")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to read") from None
    except ValueError as e:   # JSONDecodeError, and integers beyond Python's digit limit
        raise ValueError(f"{what} is not valid JSON ({str(e)[:80]})") from None
    check_json(value, what, max_depth)
    return value


def check_json(value: Any, what: str, max_depth: int = MAX_DEPTH) -> None:
    """ValueError starting with `what` if `value` (parsed JSON) nests deeper than `max_depth`
    or holds an integer beyond MAX_INTEGER. Walks it without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ValueError(f"{what} is nested more than {max_depth} levels deep")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, int) and not isinstance(item, bool) and not is_number(item):
            raise ValueError(f"{what} holds a number too large to use: {short(item)}")
