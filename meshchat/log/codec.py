"""Strict, canonical msgpack: the only way bytes from outside become Python values.

Every value that is signed or hashed travels as msgpack. Decoding is bounded (every string, binary, array
and map length), refuses ext types and floats, and :func:`unpack_canonical` insists that the bytes
re-encode to exactly themselves with map keys in sorted order. That makes the encoding of a value unique, so
nobody can vary an entry's bytes (and therefore its id) without changing its meaning.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeAlias, Union

import msgpack

from meshchat.errors import MeshchatError

# A decoded value: what msgpack gives back once floats and ext types are refused.
Value: TypeAlias = Union[None, bool, int, str, bytes, list["Value"], dict[Any, "Value"]]  # noqa: UP007


class DecodeError(MeshchatError, ValueError):
    """Bytes that are not strict, canonical msgpack of the expected shape."""


def _refuse_ext(code: int, data: bytes) -> NoReturn:
    raise DecodeError(f"msgpack ext type {code} is not allowed")


def unpack(data: bytes, *, max_len: int, max_items: int = 256, check_values: bool = True) -> Value:
    """Decode one msgpack value from ``data`` with every length bounded; no ext types, no floats.

    ``check_values=False`` skips the walk that refuses floats, for callers that check every field's type
    themselves (the entry header and envelope).
    """
    if len(data) > max_len:
        raise DecodeError(f"{len(data)} bytes exceed the limit of {max_len}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            use_list=True,
            max_str_len=max_len,
            max_bin_len=max_len,
            max_array_len=max_items,
            max_map_len=max_items,
            max_ext_len=0,
            ext_hook=_refuse_ext,
            unicode_errors="strict",
        )
    except DecodeError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:  # msgpack's own errors derive from ValueError
        raise DecodeError(f"not valid msgpack: {exc}") from exc
    if check_values:
        _check_value(value, require_sorted=False)
    return value  # type: ignore[no-any-return]


def unpack_canonical(data: bytes, *, max_len: int, max_items: int = 256) -> Value:
    """Like :func:`unpack`, and ``data`` must be the one canonical encoding of the value."""
    value = unpack(data, max_len=max_len, max_items=max_items, check_values=False)
    check_canonical(value, data)
    return value


def check_canonical(value: Value, data: bytes) -> None:
    """Raise :class:`DecodeError` unless ``value`` holds no floats or foreign types, its maps have sorted
    keys, and ``data`` is exactly its encoding."""
    if type(value) is dict and _STR_ONLY.issuperset(map(type, value)):
        # The common case, a body map with text keys: check it flat and walk only nested values. The
        # type tests run inside frozenset.issuperset (C), not as a Python loop.
        keys = list(value)
        if keys != sorted(keys):
            raise DecodeError("map keys are not in canonical order")
        if not _SCALARS.issuperset(map(type, value.values())):
            for item in value.values():
                if type(item) not in _SCALARS:
                    _check_value(item, require_sorted=True)
    else:
        _check_value(value, require_sorted=True)
    if _pack_plain(value) != data:
        raise DecodeError("not canonical msgpack (the bytes do not re-encode to themselves)")


def pack(value: Any) -> bytes:
    """Encode ``value`` canonically: map keys sorted, smallest encodings."""
    return msgpack.packb(_sorted_maps(value), use_bin_type=True)  # type: ignore[no-any-return]


def _sorted_maps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_maps(value[k]) for k in sorted(value, key=_key_order)}
    if isinstance(value, list):
        return [_sorted_maps(v) for v in value]
    return value


def _key_order(key: object) -> tuple[int, bytes | int]:
    """Total order on map keys: ints, then bytes, then strings (by their UTF-8 bytes)."""
    if isinstance(key, bool):
        raise DecodeError("booleans cannot be map keys")
    if isinstance(key, int):
        return (0, key)
    if isinstance(key, bytes):
        return (1, key)
    if isinstance(key, str):
        return (2, key.encode())
    raise DecodeError(f"map key of type {type(key).__name__} is not allowed")


_SCALARS = frozenset({type(None), bool, int, str, bytes})
_STR_ONLY = frozenset({str})

# One Packer for re-encoding checks: ``msgpack.packb`` builds a Packer (and a 256 KiB buffer) per call, which
# costs more than the packing itself. Sharing it is safe: ``pack`` is one C call that runs no Python code for
# the plain types checked above (so under the GIL no other thread can enter it meanwhile), msgpack marks it a
# critical section for free-threaded builds, and it resets its buffer on errors.
_pack_plain = msgpack.Packer(use_bin_type=True).pack


def _check_value(value: object, *, require_sorted: bool) -> None:
    """Refuse floats and foreign types; optionally require sorted map keys. Iterative: no recursion limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is list:
            stack.extend(item)  # type: ignore[arg-type]
        elif kind is dict:
            mapping: dict[object, object] = item  # type: ignore[assignment]
            keys: list[Any] = list(mapping)
            if all(type(k) is str for k in keys):
                # UTF-8 preserves code point order, so str order is the order of the encoded keys.
                if require_sorted and keys != sorted(keys):
                    raise DecodeError("map keys are not in canonical order")
            else:
                order = [_key_order(k) for k in keys]
                if require_sorted and order != sorted(order):
                    raise DecodeError("map keys are not in canonical order")
            stack.extend(mapping.values())
        else:
            raise DecodeError(f"values of type {kind.__name__} are not allowed")
