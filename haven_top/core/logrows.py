"""The rows of the log pane: a selection, and pinned copies while it is held.

While the pane is held, the records on screen are pinned: `LogRows` keeps a
copy of each. When the store evicts a pinned record, its copy becomes a
ghost row placed before the selection's rows, so the screen keeps showing
it until the operator scrolls it away or resumes following. Only the rows
on screen are pinned, so the copies cost at most a screenful of records.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from haven_top.core.logrecord import LogRecord
from haven_top.core.logselection import LogSelection


class LogRows:
    """Ghost rows (pinned copies of evicted records), then the selection's rows."""

    def __init__(self, selection: LogSelection) -> None:
        self.selection = selection
        self.store = selection.store
        self._pinned: dict[int, LogRecord] = {}
        self._ghosts: list[int] = []
        """Seqs of the pinned records that the store evicted, oldest first."""

    def __len__(self) -> int:
        return len(self._ghosts) + len(self.selection)

    @property
    def ghost_count(self) -> int:
        return len(self._ghosts)

    def seq_at(self, row: int) -> int | None:
        """Return the seq shown on `row`, or None past either end."""
        if row < 0:
            return None
        ghosts = len(self._ghosts)
        if row < ghosts:
            return self._ghosts[row]
        if row - ghosts < len(self.selection):
            return self.selection.seq_at(row - ghosts)
        return None

    def index_of(self, seq: int) -> int | None:
        """Return the row showing `seq`, or None when no row does."""
        index = bisect_left(self._ghosts, seq)
        if index < len(self._ghosts) and self._ghosts[index] == seq:
            return index
        found = self.selection.index_of(seq)
        return None if found is None else found + len(self._ghosts)

    def record(self, seq: int) -> LogRecord | None:
        """Return the record `seq` from the store, else its pinned copy, else None."""
        record = self.store.get(seq)
        return self._pinned.get(seq) if record is None else record

    def pin(self, seqs: Iterable[int]) -> None:
        """Keep copies of exactly `seqs` and drop the copies of other records.

        Ghost rows of dropped copies disappear, so rows after them move up.
        """
        pinned: dict[int, LogRecord] = {}
        for seq in seqs:
            record = self._pinned.get(seq) or self.store.get(seq)
            if record is not None:
                pinned[seq] = record
        self._pinned = pinned
        self._ghosts = [seq for seq in self._ghosts if seq in pinned]

    def unpin(self) -> None:
        self._pinned = {}
        self._ghosts = []

    def refresh(self) -> tuple[int, int]:
        """Refresh the selection and turn evicted pinned records into ghosts.

        Returns (new matching records, rows evicted from the selection).
        """
        evicted_before = self.selection.evicted
        new = self.selection.refresh()
        first = self.store.first_seq
        self._ghosts = sorted(seq for seq in self._pinned if seq < first)
        return new, self.selection.evicted - evicted_before

    def is_problem(self, row: int) -> bool:
        seq = self.seq_at(row)
        record = None if seq is None else self.record(seq)
        return record is not None and record.is_problem

    def find_problem(self, start: int, step: int) -> int | None:
        """Return the next row after `start` going by `step` (+1 or -1) whose
        record is ERROR or worse or a 5xx response, or None."""
        ghosts = len(self._ghosts)
        if step > 0:
            found = self._find_ghost(range(start + 1, ghosts))
            if found is None:
                found = self._find_selected(max(start - ghosts, -1), step)
            return found
        found = None
        if start - ghosts > 0:
            found = self._find_selected(start - ghosts, step)
        if found is None:
            found = self._find_ghost(range(min(start, ghosts) - 1, -1, -1))
        return found

    def _find_ghost(self, rows: range) -> int | None:
        return next((row for row in rows if self.is_problem(row)), None)

    def _find_selected(self, start: int, step: int) -> int | None:
        found = self.selection.find_problem(start, step)
        return None if found is None else found + len(self._ghosts)
