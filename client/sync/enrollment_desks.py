"""One enrollment update (职工参保信息更新) per unit at a time across desks.

A thin wrapper around :class:`EnrollmentSync` used by the page's job, the scheduler (through
the same job) and the agency batch: it takes the unit's enrollment lock and records its
progress for the other desks (client/core/desk_activity.py). A desk that finds the lock taken
shows "另一台电脑正在更新职工参保信息" with the holder's progress, waits for it, and then says
the other desk finished; the sync itself is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.core import desk_activity, team_state
from client.core.desk_activity import Outcome, Progress
from client.core.store import Store
from client.errors import ConflictError
from client.sync.enrollment import EnrollmentSync, SyncResult, cursor_state
from client.sync.taxclient import TaxClient

Call = Callable[[Callable[[TaxClient], SyncResult]], SyncResult]


def update_once(
    store: Store,
    unit_pk: int,
    taxside_unit_id: str,
    mode: str,
    ctx: Progress | None,
    call: Call,
    *,
    before: Callable[[Progress], None] | None = None,
    operator: str = "",
    desk: str | None = None,
    page_size: int | None = None,
    poll_seconds: float = desk_activity.POLL_SECONDS,
) -> Outcome[SyncResult]:
    """Run the update unless another desk runs one for the unit; then wait for that one.

    ``call`` runs a function with a logged-in TaxClient (the session's token handling);
    ``before`` runs under the lock first (the safety backup before a full update). Should
    the other desk's update end unfinished (it crashed), this desk runs its own.
    """

    def update(progress: Progress) -> SyncResult:
        # Checked under the lock: a team restore sets the flag, then waits for this lock.
        restoring = team_state.get(store, team_state.SENDERS_PAUSED)
        if restoring is not None:
            who = f"（操作员 {restoring['operator']}）" if restoring.get("operator") else ""
            raise ConflictError(
                f"团队数据正在从备份恢复{who}，暂不能更新职工参保信息；恢复完成后再更新。",
                code="team_restoring",
            )
        if before is not None:
            before(progress)
        extra: dict[str, Any] = {"page_size": page_size} if page_size else {}
        return call(lambda c: EnrollmentSync(store, c, unit_pk, taxside_unit_id, **extra).run(mode, progress))  # type: ignore[arg-type]

    return desk_activity.exclusive(
        store, unit_pk, desk_activity.ENROLLMENT, ctx, update, operator=operator, desk=desk,
        settled=lambda: cursor_state(store, unit_pk).complete, poll_seconds=poll_seconds,
    )


def waited_result(outcome: Outcome[Any], mode: str) -> dict[str, Any]:
    """The job's result when another desk did the update: nothing changed here, the page reloads."""
    other = outcome.other
    return {
        "mode": mode, "changed": 0, "added": 0, "updated": 0, "removed": 0, "pages": 0, "downloaded": 0,
        "other_desk": other.desk if other else "", "message": outcome.message,
    }
