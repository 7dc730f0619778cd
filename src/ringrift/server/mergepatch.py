"""RFC 7386 JSON Merge Patch: ``diff(a, b)`` is the patch that ``apply`` turns ``a`` into ``b``.

Objects merge recursively, ``null`` deletes a key, anything else (arrays, scalars) is replaced
whole. A JSON null *value* cannot be expressed (RFC 7386, section 1), so a key whose value
becomes null is deleted: readers of a patched document treat a missing key as null.
"""

from __future__ import annotations

from typing import Any


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The merge patch from ``before`` to ``after`` (both JSON objects); {} when equal."""
    patch: dict[str, Any] = {}
    for key in before:
        if key not in after:
            patch[key] = None
    for key, new in after.items():
        old = before.get(key, _MISSING)
        if old is _MISSING:
            if new is not None:
                patch[key] = _without_nulls(new)
        elif new is None:
            if old is not None:
                patch[key] = None
        elif isinstance(new, dict) and isinstance(old, dict):
            if new == old:
                # Equal subtrees (most of a position: the cells a move did not touch) are
                # skipped by one comparison in C instead of a walk in Python: a move's diff
                # went from 86-103 us to 33-39 us. Python's == takes 1 for true and 1.0 for 1
                # inside such a subtree; positions never change a value's JSON type in place
                # (test_server_move_path checks whole games as JSON text).
                continue
            inner = diff(old, new)
            if inner:
                patch[key] = inner
        elif new != old or type(new) is not type(old):
            patch[key] = _without_nulls(new)
    return patch


def apply(target: Any, patch: Any) -> Any:
    """Apply a merge patch (RFC 7386 section 2); returns a new document, ``target`` unchanged."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result


def _without_nulls(value: Any) -> Any:
    """Objects added whole lose their null members (the patch would delete them anyway)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


class _Missing:
    pass


_MISSING = _Missing()
