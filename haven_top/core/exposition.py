"""Parser for Prometheus text exposition (format 0.0.4) and OpenMetrics text.

`ExpositionParser.parse` turns one `/metrics` body into an `Exposition`: samples
grouped by sample name, plus the HELP, TYPE and UNIT metadata. A malformed line is
skipped with a one-line warning and the rest is kept. A body without a single
usable sample raises `ExpositionError`.

Speed comes from a cache, because a service exposes nearly the same series on
every scrape. The parser maps the raw series text (`name{labels}`, everything
before the value) to a `Series` object built once. After the first scrape, most
lines cost one `str.rpartition`, one dict lookup and one `float()`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

MAX_WARNINGS = 20
"""Warnings kept per body; the rest are counted in one closing warning."""

METRIC_TYPES = frozenset(
    {
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "summary",
        "info",
        "stateset",
        "unknown",
        "untyped",
    }
)

# Types whose families may carry a `_created` timestamp series.
_TYPES_WITH_CREATED = frozenset({"counter", "histogram", "gaugehistogram", "summary"})

# Suffixes that tie a sample name to its family name, longest first.
_SAMPLE_SUFFIXES = (
    "_bucket",
    "_created",
    "_gcount",
    "_count",
    "_total",
    "_gsum",
    "_info",
    "_sum",
)

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_BLANKS_RE = re.compile(r"[ \t]*")
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
_LABEL_RE = re.compile(rf'({_LABEL_NAME})[ \t]*=[ \t]*"({_QUOTED_BODY})"')
# A whole well-formed label block, `{` through `}`, trailing comma allowed.
_PAIR = rf'{_LABEL_NAME}[ \t]*=[ \t]*"{_QUOTED_BODY}"'
_LABEL_BLOCK_RE = re.compile(
    rf"\{{[ \t]*(?:{_PAIR}[ \t]*,[ \t]*)*(?:{_PAIR}[ \t]*)?\}}"
)
_LABEL_NAME_RE = re.compile(rf"{_LABEL_NAME}[ \t]*=")
_ESCAPE_RE = re.compile(r"\\(.)")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

_SNIPPET_LENGTH = 80
_MIN_CACHE_SLACK = 1000


class ExpositionError(ValueError):
    """The body contains no usable metric samples at all."""


class Series:
    """One time series: a metric name and its label set.

    The parser returns the same `Series` object for the same series text on every
    scrape, so callers can cache what they derive from it under `text`.
    """

    __slots__ = ("name", "labels", "text", "_hash")

    name: str
    labels: Mapping[str, str]
    """Read-only label names and values, unescaped."""
    text: str
    """The series as written in the body: `name{labels}`, without the value."""

    def __init__(
        self, name: str, labels: Mapping[str, str] | None = None, text: str = ""
    ) -> None:
        self.name = sys.intern(name)
        self.labels = MappingProxyType(dict(labels or {}))
        self.text = text or _format_series(name, self.labels)
        self._hash = hash((self.name, frozenset(self.labels.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return self.name == other.name and self.labels == other.labels

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Series({self.text})"


Sample = tuple[Series, float]


class SampleGroup:
    """The samples of one sample name, as two parallel lists.

    Parallel lists rather than a list of pairs keep the parser from allocating
    one tuple per line, which the garbage collector would otherwise scan.
    """

    __slots__ = ("series", "values")

    def __init__(self) -> None:
        self.series: list[Series] = []
        self.values: list[float] = []

    def append(self, series: Series, value: float) -> None:
        self.series.append(series)
        self.values.append(value)

    def __iter__(self) -> Iterator[Sample]:
        return zip(self.series, self.values, strict=True)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"SampleGroup({list(self)!r})"


_EMPTY_GROUP = SampleGroup()


@dataclass
class Exposition:
    """The samples and metadata of one exposition body."""

    samples: dict[str, SampleGroup] = field(default_factory=dict)
    """Samples by sample name, in body order. `_created` series are not here."""
    created: dict[str, SampleGroup] = field(default_factory=dict)
    """`*_created` series of counters, histograms and summaries: Unix times at
    which a series was created, never values to add up."""
    types: dict[str, str] = field(default_factory=dict)
    """Metric type by the family name written on the TYPE line."""
    help: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    timestamps: dict[Series, float] = field(default_factory=dict)
    """Unix times in seconds, only for samples whose line carried a timestamp."""
    warnings: list[str] = field(default_factory=list)
    openmetrics: bool = False

    def get(self, name: str) -> SampleGroup:
        """Return the samples named `name`, or a shared empty group.

        Do not append to the returned group.
        """
        return self.samples.get(name, _EMPTY_GROUP)

    def first_value(self, name: str) -> float | None:
        """Return the value of the first sample named `name`, or None."""
        found = self.samples.get(name)
        if not found:
            return None
        return found.values[0]

    def type_of(self, sample_name: str) -> str | None:
        """Return the TYPE of the family that `sample_name` belongs to, or None.

        Works for both naming styles: 0.0.4 declares a counter under its sample
        name (`x_total`) while OpenMetrics declares the family (`x`), and
        histogram samples end in `_bucket`, `_count` or `_sum`.
        """
        found = self.types.get(sample_name)
        if found is not None:
            return found
        for suffix in _SAMPLE_SUFFIXES:
            if sample_name.endswith(suffix):
                return self.types.get(sample_name[: -len(suffix)])
        return None

    def __len__(self) -> int:
        return sum(len(found) for found in self.samples.values())

    def __iter__(self) -> Iterator[Sample]:
        for found in self.samples.values():
            yield from found


class ExpositionParser:
    """Parser with a cache of series that lives across scrapes of one target.

    The cache is bounded. Once it contains more than twice the series of the
    latest body (plus some slack), it keeps only the series of that body. Not
    thread-safe.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Series] = {}

    @property
    def cached_series(self) -> int:
        return len(self._cache)

    def parse(self, body: bytes | str, content_type: str | None = None) -> Exposition:
        """Parse one exposition body.

        Raises `ExpositionError` when the body contains no sample at all.
        """
        text = (
            body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        )
        openmetrics = _is_openmetrics(text, content_type)
        result = Exposition(openmetrics=openmetrics)
        context = _LineContext(result)
        self._parse_lines(text.split("\n"), context)
        context.finish()
        _move_created_series(result)
        if not result.samples and not result.created:
            raise ExpositionError(_no_samples_message(text, context))
        self._trim_cache(result)
        return result

    def _parse_lines(self, lines: list[str], context: _LineContext) -> None:
        cache_get = self._cache.get
        samples = context.result.samples
        last_name = None
        add_series = add_value = _discard
        for index, line in enumerate(lines):
            key, _, value_text = line.rpartition(" ")
            series = cache_get(key)
            try:
                value = float(value_text) if series is not None else None
            except ValueError:
                value = None
            if value is None:
                sample = self._parse_line(line, index + 1, context)
                if sample is None:
                    if context.eof_line:
                        context.check_after_eof(lines, index + 1)
                        return
                    continue
                series, value = sample
            name = series.name  # type: ignore[union-attr]
            if name is not last_name:
                group = samples.get(name)
                if group is None:
                    group = samples[name] = SampleGroup()
                add_series = group.series.append
                add_value = group.values.append
                last_name = name
            add_series(series)
            add_value(value)

    def _parse_line(
        self, line: str, lineno: int, context: _LineContext
    ) -> Sample | None:
        """Parse a line the fast path could not take: new series, comment,
        blank, timestamp, exemplar or malformed."""
        stripped = line.strip()
        if not stripped:
            return None
        if stripped[0] == "#":
            _parse_comment(stripped, lineno, context)
            return None
        try:
            text, name, labels, rest = _split_series(stripped)
            value, timestamp = _parse_value_part(rest)
        except _LineError as exc:
            context.warn(lineno, str(exc), line)
            return None
        series = self._cache.get(text)
        if series is None:
            series = Series(name, labels, text)
            self._cache[text] = series
        if timestamp is not None:
            seconds = timestamp if context.result.openmetrics else timestamp / 1000
            context.result.timestamps[series] = seconds
        return series, value

    def _trim_cache(self, result: Exposition) -> None:
        seen = len(result) + sum(len(found) for found in result.created.values())
        if len(self._cache) <= 2 * seen + _MIN_CACHE_SLACK:
            return
        kept: dict[str, Series] = {}
        for groups in (result.samples, result.created):
            for group in groups.values():
                for series in group.series:
                    kept[series.text] = series
        self._cache = kept


def _discard(item: object) -> None:
    """Stand-in for a group's append before the first sample."""


def parse(body: bytes | str, content_type: str | None = None) -> Exposition:
    """Parse one exposition body without a cache kept across calls."""
    return ExpositionParser().parse(body, content_type)


class _LineError(ValueError):
    """Problem with one line, in a few words."""


class _LineContext:
    """Per-body parse state: the result, warning counts and the `# EOF` mark."""

    def __init__(self, result: Exposition) -> None:
        self.result = result
        self.eof_line = 0
        self.malformed = 0
        self.first_problem: str | None = None
        """The first malformed line, briefly, for `ExpositionError`."""

    def warn(self, lineno: int, problem: str, line: str) -> None:
        message = f"line {lineno}: {problem}: {_snippet(line)}"
        self.malformed += 1
        if self.first_problem is None:
            self.first_problem = (
                f"first bad line {lineno}: {problem}: {_snippet(line, 40)}"
            )
        if self.malformed <= MAX_WARNINGS:
            self.result.warnings.append(message)

    def check_after_eof(self, lines: list[str], start: int) -> None:
        for index in range(start, len(lines)):
            if lines[index].strip():
                self.warn(index + 1, "text after '# EOF' ignored", lines[index])
                return

    def finish(self) -> None:
        hidden = self.malformed - MAX_WARNINGS
        if hidden > 0:
            self.result.warnings.append(f"{hidden} more malformed lines skipped")


def _is_openmetrics(text: str, content_type: str | None) -> bool:
    if content_type and "openmetrics" in content_type.lower():
        return True
    return text.rstrip().endswith("# EOF")


def _parse_comment(stripped: str, lineno: int, context: _LineContext) -> None:
    """Store a HELP, TYPE or UNIT line, or mark `# EOF`. Other comments are ignored."""
    parts = stripped[1:].split(None, 2)
    if not parts:
        return
    keyword = parts[0]
    if keyword == "EOF" and len(parts) == 1:
        context.eof_line = lineno
        return
    if keyword not in ("HELP", "TYPE", "UNIT"):
        return
    if len(parts) < 2 or not _NAME_RE.fullmatch(parts[1]):
        context.warn(lineno, f"{keyword} line without a valid metric name", stripped)
        return
    name = parts[1]
    rest = parts[2] if len(parts) > 2 else ""
    result = context.result
    if keyword == "HELP":
        result.help[name] = _unescape(rest) if "\\" in rest else rest
    elif keyword == "UNIT":
        result.units[name] = rest
    elif rest.lower() in METRIC_TYPES:
        result.types[name] = rest.lower()
    else:
        context.warn(lineno, f"unknown metric type {rest!r}", stripped)


def _split_series(line: str) -> tuple[str, str, dict[str, str], str]:
    """Split a sample line into series text, name, labels and the rest."""
    match = _NAME_RE.match(line)
    if match is None:
        raise _LineError("invalid metric name")
    name = match.group()
    end = match.end()
    labels: dict[str, str] = {}
    if end < len(line) and line[end] == "{":
        block = _LABEL_BLOCK_RE.match(line, end)
        if block is None:
            end = _parse_labels(line, end + 1, labels)
        else:
            end = _read_label_block(block.group(), labels) + end
    return line[:end], name, labels, line[end:]


def _read_label_block(block: str, labels: dict[str, str]) -> int:
    """Fill `labels` from a matched label block and return the block's length."""
    pairs = _LABEL_RE.findall(block)
    for key, raw in pairs:
        labels[key] = _unescape(raw) if "\\" in raw else raw
    if len(labels) != len(pairs):
        raise _LineError("duplicate label name")
    return len(block)


def _parse_labels(line: str, pos: int, labels: dict[str, str]) -> int:
    """Fill `labels` from the text after `{` and return the index after `}`."""
    while True:
        pos = _BLANKS_RE.match(line, pos).end()  # type: ignore[union-attr]
        if pos >= len(line):
            raise _LineError("missing '}' after the labels")
        if line[pos] == "}":
            return pos + 1
        match = _LABEL_RE.match(line, pos)
        if match is None:
            raise _LineError(_label_problem(line, pos))
        key, raw = match.groups()
        if key in labels:
            raise _LineError(f"duplicate label {key!r}")
        labels[key] = _unescape(raw) if "\\" in raw else raw
        pos = _BLANKS_RE.match(line, match.end()).end()  # type: ignore[union-attr]
        if pos >= len(line):
            raise _LineError("missing '}' after the labels")
        if line[pos] == ",":
            pos += 1
        elif line[pos] != "}":
            raise _LineError(f"expected ',' or '}}' after label {key!r}")


def _label_problem(line: str, pos: int) -> str:
    if _LABEL_NAME_RE.match(line, pos) is None:
        return f"invalid label name at column {pos + 1}"
    return f"label value at column {pos + 1} is not a terminated quoted string"


def _parse_value_part(rest: str) -> tuple[float, float | None]:
    """Parse ` value [timestamp] [# exemplar]` and drop the exemplar."""
    if not rest:
        raise _LineError("missing value")
    if rest[0] not in " \t":
        raise _LineError("expected a space between the series and the value")
    head = rest.partition("#")[0]
    tokens = head.split()
    if not tokens:
        raise _LineError("missing value")
    # Checked in reading order, so the problem named is the first one.
    value = _parse_number(tokens[0], "value")
    if len(tokens) == 1:
        return value, None
    timestamp = _parse_number(tokens[1], "timestamp")
    if len(tokens) > 2:
        raise _LineError("unexpected text after the timestamp")
    return value, timestamp


def _parse_number(token: str, what: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise _LineError(f"{what} {_cut(token, 12)!r} is not a number") from None


def _unescape(raw: str) -> str:
    """Undo the `\\\\`, `\\"` and `\\n` escapes.

    Other backslash pairs stay as written, as prometheus_client's parser keeps them.
    """
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_series(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return f"{name}{{{pairs}}}"


def _move_created_series(result: Exposition) -> None:
    """Move `*_created` samples of counters, histograms and summaries aside.

    prometheus_client types them as gauges in format 0.0.4, so the TYPE line
    cannot tell. A `_created` name counts as a timestamp when its family is typed
    as a counter, histogram or summary, or has `_total`, `_count` or `_bucket`
    samples.
    """
    for name in [name for name in result.samples if name.endswith("_created")]:
        base = name[: -len("_created")]
        if _has_created_series(result, base):
            result.created[name] = result.samples.pop(name)


def _has_created_series(result: Exposition, base: str) -> bool:
    if result.types.get(base) in _TYPES_WITH_CREATED:
        return True
    if result.types.get(base + "_total") == "counter":
        return True
    siblings = (base + "_total", base + "_count", base + "_bucket")
    return any(sibling in result.samples for sibling in siblings)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(line: str, limit: int = _SNIPPET_LENGTH) -> str:
    # repr() quotes the text and escapes control characters, so a hostile
    # body cannot put escape sequences into a message.
    return repr(_cut(line.strip(), limit))


def _no_samples_message(text: str, context: _LineContext) -> str:
    if not text.strip():
        return "no samples; the body is empty"
    detail = context.first_problem or "the body has only comments"
    return f"no samples; {detail}"
