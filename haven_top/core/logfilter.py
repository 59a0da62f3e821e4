"""The log filter language.

A filter is a list of terms separated by spaces; a record passes when it
matches every term (AND). Quote a term to keep spaces in it: `"pool exhausted"`.

- `word`: free text, found anywhere in the raw line. Lowercase text matches
  any case; text with a capital letter matches its case exactly.
- `field OP value` with OP one of `=`, `!=`, `>=`, `<=`, `>`, `<`, `~`
  (contains). Fields: `level` (compared by rank: `level>=WARNING`), `status`
  (`status>=500`, or a class: `status=5xx`), `duration` in ms (`duration>250`,
  or with a unit: `duration>=1.5s`), `path`, `method`, `instance`, `logger`,
  `message`, `request_id` (also `rid`). `path` and other text fields compare
  exactly with `=`; a value holding `*` or `?` is a glob: `path=/api/*`.
- A bare request ID (a UUID, or an ID the store holds) is `request_id=ID`.
- `!` before a term inverts it: `!level=DEBUG`, `!/health`.

Raw lines (not structured records) have no fields: they fail every field term
and pass its inversion.
"""

from __future__ import annotations

import fnmatch
import json
import operator
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from haven_top.core.logrecord import LEVEL_NAMES, RAW_LEVEL, level_rank
from haven_top.core.logstore import LogStore

_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_TERM = re.compile(r"^([A-Za-z_]+)(==|!=|>=|<=|=|>|<|~)(.*)$", re.DOTALL)
_FIELD_ALIASES = {
    "rid": "request_id",
    "id": "request_id",
    "duration_ms": "duration",
    "msg": "message",
    "status_code": "status",
}
_TEXT_FIELDS = ("path", "method", "instance", "logger", "message", "request_id")
_REQUEST_ID_SHAPE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}"
)
_DURATION = re.compile(r"^([0-9]*\.?[0-9]+)\s*(ms|s)?$")


class FilterError(ValueError):
    """A filter expression that cannot be parsed; the message contains the fix."""


Match = Callable[[LogStore, int], bool]


@dataclass(frozen=True)
class Term:
    """One condition of a filter."""

    source: str
    """The term as typed, for messages."""
    match: Match
    negated: bool = False
    request_id: str | None = None
    """The ID of a `request_id=ID` term, so the store's index can be used."""

    def __call__(self, store: LogStore, seq: int) -> bool:
        return self.match(store, seq) != self.negated


@dataclass(frozen=True)
class LogFilter:
    """A parsed filter; `LogFilter()` (no terms) passes every record."""

    text: str = ""
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def request_id(self) -> str | None:
        """The ID of a positive `request_id=ID` term; every match has it."""
        for term in self.terms:
            if term.request_id is not None and not term.negated:
                return term.request_id
        return None

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, store: LogStore, seq: int) -> bool:
        """True when the retained record `seq` passes every term."""
        return all(term(store, seq) for term in self.terms)


def parse_filter(
    text: str, *, is_request_id: Callable[[str], bool] | None = None
) -> LogFilter:
    """Parse a filter expression; raise `FilterError` saying what to fix.

    `is_request_id` returns whether a bare word is a request ID the caller
    knows (for example `LogStore.has_request`).
    """
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise FilterError(
            f"filter {text!r} is invalid: {error}; close the quote or remove it"
        ) from None
    terms = tuple(_parse_term(word, is_request_id) for word in words)
    return LogFilter(text=text.strip(), terms=terms)


def _parse_term(word: str, is_request_id: Callable[[str], bool] | None) -> Term:
    negated = word.startswith("!") and len(word) > 1 and not word.startswith("!=")
    body = word[1:] if negated else word
    found = _TERM.match(body)
    if found is None:
        return _bare_term(word, body, negated, is_request_id)
    name, op, value = found.groups()
    name = _FIELD_ALIASES.get(name.lower(), name.lower())
    if name not in ("level", "status", "duration", *_TEXT_FIELDS):
        # Not a field: "key=value" text as found in the line, e.g. "user=alice".
        return _bare_term(word, body, negated, is_request_id)
    if not value:
        raise FilterError(f"filter term {word!r} has no value; write {name}{op}VALUE")
    term = _field_term(word, name, op, value)
    return Term(word, term.match, negated, term.request_id)


def _bare_term(
    word: str,
    body: str,
    negated: bool,
    is_request_id: Callable[[str], bool] | None,
) -> Term:
    known = is_request_id is not None and is_request_id(body)
    if known or _REQUEST_ID_SHAPE.fullmatch(body):
        return Term(word, _request_id_match(body), negated, body)
    return Term(word, _text_match(body), negated)


def _field_term(word: str, name: str, op: str, value: str) -> Term:
    if name == "level":
        return Term(word, _level_match(word, op, value))
    if name == "status":
        return Term(word, _status_match(word, op, value))
    if name == "duration":
        return Term(word, _duration_match(word, op, value))
    if name == "request_id" and op in ("=", "=="):
        return Term(word, _request_id_match(value), request_id=value)
    return Term(word, _text_field_match(word, name, op, value))


def _level_match(word: str, op: str, value: str) -> Match:
    rank = level_rank(value)
    if rank is None or op == "~":
        names = ", ".join(name for name in LEVEL_NAMES.values() if name[:1].isalpha())
        raise FilterError(f"filter term {word!r} is invalid: use level{op} {names}")
    compare = _COMPARE[op]
    return lambda store, seq: (
        (level := store.level_at(seq)) != RAW_LEVEL and compare(level, rank)
    )


def _status_match(word: str, op: str, value: str) -> Match:
    lowered = value.lower()
    if len(lowered) == 3 and lowered[0] in "12345" and lowered.endswith("xx"):
        if op not in ("=", "==", "!="):
            raise FilterError(f"filter term {word!r} is invalid: use status={value}")
        first = int(lowered[0])
        wanted = op != "!="
        return lambda store, seq: (
            (status := store.status_at(seq)) > 0 and (status // 100 == first) == wanted
        )
    if not value.isdigit() or op == "~":
        raise FilterError(
            f"filter term {word!r} is invalid: use a code or a class, "
            "as in status>=500 or status=4xx"
        )
    code = int(value)
    compare = _COMPARE[op]
    return lambda store, seq: (
        (status := store.status_at(seq)) > 0 and compare(status, code)
    )


def _duration_match(word: str, op: str, value: str) -> Match:
    found = _DURATION.match(value.strip())
    if found is None or op == "~":
        raise FilterError(
            f"filter term {word!r} is invalid: use milliseconds or seconds, "
            "as in duration>250 or duration>=1.5s"
        )
    limit = float(found.group(1)) * (1000.0 if found.group(2) == "s" else 1.0)
    compare = _COMPARE[op]

    def match(store: LogStore, seq: int) -> bool:
        record = store.get(seq)
        duration = record.duration_ms if record is not None else None
        return duration is not None and compare(duration, limit)

    return match


def _text_field_match(word: str, name: str, op: str, value: str) -> Match:
    if op in (">", "<", ">=", "<="):
        raise FilterError(
            f"filter term {word!r} is invalid: {name} takes =, != or ~ (contains)"
        )
    test = _string_test(op, value)
    # The value of any field but `instance` is in the line, so a line without
    # it is skipped before parsing.
    prefilter = name != "instance" and op in ("=", "==", "~") and not _is_glob(value)
    needles = _needles(value) if prefilter else ()

    def match(store: LogStore, seq: int) -> bool:
        if needles and not any(needle in store.raw_at(seq) for needle in needles):
            return False
        found = _field_value(store, seq, name)
        return found is not None and test(found)

    return match


def _string_test(op: str, value: str) -> Callable[[str], bool]:
    if op == "~":
        return lambda found: value in found
    if _is_glob(value):
        wanted = op != "!="
        return lambda found: fnmatch.fnmatchcase(found, value) == wanted
    compare = _COMPARE[op]
    return lambda found: compare(found, value)


def _is_glob(value: str) -> bool:
    return "*" in value or "?" in value


def _field_value(store: LogStore, seq: int, name: str) -> str | None:
    if name == "instance":
        return store.instance_at(seq)
    record = store.get(seq)
    if record is None or record.is_raw:
        return None
    return getattr(record, name)


def _request_id_match(request_id: str) -> Match:
    needles = _needles(request_id)

    def match(store: LogStore, seq: int) -> bool:
        if not any(needle in store.raw_at(seq) for needle in needles):
            return False
        record = store.get(seq)
        return record is not None and record.request_id == request_id

    return match


def _text_match(text: str) -> Match:
    if text.lower() == text:
        needles = tuple(needle.lower() for needle in _needles(text))
        return lambda store, seq: any(
            needle in store.raw_at(seq).lower() for needle in needles
        )
    needles = _needles(text)
    return lambda store, seq: any(needle in store.raw_at(seq) for needle in needles)


def _needles(text: str) -> tuple[bytes, ...]:
    """Return the forms of `text` in a line: UTF-8, and JSON-escaped when different."""
    plain = text.encode("utf-8", "surrogateescape")
    escaped = json.dumps(text)[1:-1].encode("ascii")
    return (plain,) if escaped == plain else (plain, escaped)
