"""A backfill's progress: tqdm bars (one per run in flight and one overall, in slices) on a terminal, plain lines
on stderr otherwise (stdout not a TTY, or --json). A run without slices counts as one."""

from __future__ import annotations

import sys
from typing import TextIO

from shared.backfill.plan import BackfillState, Request


def overall(state: BackfillState, slice_days: int | None) -> tuple[int, int]:
    """(slices finished, slices in all) over every request: a request not yet run counts the slices its
    pipeline's slice_days will make."""
    done = sum(r.slices_finished(slice_days) for r in state.requests)
    return done, sum(r.expected_slices(slice_days) for r in state.requests)


class LineProgress:
    """One line on `stream` per change: a submission, a run's slices or status, a wait."""

    def __init__(self, state: BackfillState, slice_days: int | None, stream: TextIO | None = None):
        self.state, self.slice_days, self.stream = state, slice_days, stream or sys.stderr
        self.seen: dict[str, tuple] = {}

    def _print(self, text: str) -> None:
        print(f"backfill: {text}", file=self.stream, flush=True)

    def _overall(self) -> str:
        done, total = overall(self.state, self.slice_days)
        return f"overall {done}/{total} slices"

    def note(self, text: str) -> None:
        self._print(text)

    def refresh(self, state: BackfillState) -> None:
        sent = [r for r in state.requests if r.run_ids]
        if not sent:
            self._print(
                f"{len(state.requests)} run requests of up to {state.days_per_run} days; {self._overall()}"
            )
            return
        finished = sum(r.status == "COMPLETED" for r in sent)
        flying = sum(r.in_flight() for r in sent)
        self._print(
            f"resuming: {finished} of {len(state.requests)} requests COMPLETED, {flying} in flight; "
            f"{self._overall()}"
        )

    def submitted(self, request: Request, duplicate: bool) -> None:
        how = "already in flight as run" if duplicate else "submitted as run"
        self._print(f"{request.label} {how} {request.run_id}")

    def update(self, request: Request) -> None:
        now = (request.status, request.slices_done, request.slices_total)
        if self.seen.get(request.label) != now:
            self.seen[request.label] = now
            slices = request.expected_slices(self.slice_days)
            done = request.slices_finished(self.slice_days)
            self._print(f"{request.label} {request.status} {done}/{slices} slices; {self._overall()}")

    def settled(self, request: Request) -> None:
        what = f"{request.rows} rows" if request.status == "COMPLETED" else request.error
        self._print(f"{request.label} {request.status} ({what}); {self._overall()}")

    def close(self) -> None:
        pass


class BarProgress:
    """tqdm bars on stderr: the whole backfill in slices, and one bar per run in flight."""

    def __init__(self, state: BackfillState, slice_days: int | None):
        from tqdm import tqdm  # the CLI's alone: imported only when bars are shown

        self.tqdm, self.state, self.slice_days = tqdm, state, slice_days
        done, total = overall(state, slice_days)
        self.total = tqdm(
            total=total, initial=done, desc="backfill", unit="slice", position=0, file=sys.stderr
        )
        self.bars: dict[str, object] = {}
        self.positions: dict[str, int] = {}  # a run's bar keeps its line while it is in flight

    def _sync_total(self) -> None:
        done, total = overall(self.state, self.slice_days)
        self.total.total, self.total.n = total, done
        self.total.refresh()

    def _bar(self, request: Request):
        if request.label not in self.bars:
            taken = set(self.positions.values())
            position = self.positions[request.label] = next(
                p for p in range(1, len(taken) + 2) if p not in taken
            )
            self.bars[request.label] = self.tqdm(
                total=request.expected_slices(self.slice_days),
                desc=request.label,
                unit="slice",
                position=position,
                leave=False,
                file=sys.stderr,
            )
        return self.bars[request.label]

    def note(self, text: str) -> None:
        self.tqdm.write(f"backfill: {text}", file=sys.stderr)

    def refresh(self, state: BackfillState) -> None:
        for request in state.requests:
            if request.in_flight():
                self.update(request)
        self._sync_total()

    def submitted(self, request: Request, duplicate: bool) -> None:
        self._bar(request)
        if duplicate:
            self.note(f"{request.label} was already in flight as run {request.run_id}")

    def update(self, request: Request) -> None:
        bar = self._bar(request)
        bar.total, bar.n = request.expected_slices(self.slice_days), request.slices_finished(self.slice_days)
        bar.set_postfix_str(request.status or "", refresh=False)
        bar.refresh()
        self._sync_total()

    def settled(self, request: Request) -> None:
        bar = self.bars.pop(request.label, None)
        self.positions.pop(request.label, None)
        if bar is not None:
            bar.close()
        what = f"{request.rows} rows" if request.status == "COMPLETED" else request.error
        self.note(f"{request.label} {request.status} ({what})")
        self._sync_total()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.total.close()
