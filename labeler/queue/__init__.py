"""The queue: the one owner of ``QueueEntry`` and ``QueryRound``. Nothing outside this package
writes either table (``tests/labeler/test_structure_queue.py`` checks it).

- ``lease``: the items an annotator holds, topped up from the queue (``leasing``);
- ``entry_for_answer`` / ``held_entry`` then ``answered``: the queue's side of a submit or a
  skip; ``undone``: an item back in front of its annotator; ``release_held``: a member's held
  items back to everyone (``answering``);
- ``round_replace``: a retrain's round, its reserve and the ranking beyond it (what leases
  read on when both are used up and the next round is late: ``ranking``); ``requeue``: a
  manager's items to the front; ``reserve_size`` and ``reserve_strategy_share`` (``rounds``);
- ``budget_state``: the budget and daily cap that stop serving and answering;
- ``locks_take`` and ``Lock``: the locks the queue's writers share, in their one order
  (``locks``); the request path's plain SQL is named in ``sql``.

The services (annotating, undoing, items, members, training) call these inside their own
transactions; the retrain and the page's messages stay theirs."""

from labeler.queue.answering import (
    NotServed,
    answered,
    entry_for_answer,
    held_entry,
    held_item_ids,
    open_item_ids,
    release_held,
    undone,
)
from labeler.queue.leasing import (
    EMPTY,
    EXPLORATION_RANK,
    MAX_HOLD,
    LeasedItems,
    NextItem,
    budget_state,
    lease,
)
from labeler.queue.locks import Lock, lock_clause, locks_take, skipping_locked
from labeler.queue.ranking import RANKED_RANK, RANKING_DEPTH
from labeler.queue.rounds import (
    RESERVE_MAX_ROUNDS,
    requeue,
    reserve_size,
    reserve_strategy_share,
    round_replace,
)

__all__ = [
    "EMPTY",
    "EXPLORATION_RANK",
    "MAX_HOLD",
    "RANKED_RANK",
    "RANKING_DEPTH",
    "RESERVE_MAX_ROUNDS",
    "LeasedItems",
    "Lock",
    "NextItem",
    "NotServed",
    "answered",
    "budget_state",
    "entry_for_answer",
    "held_entry",
    "held_item_ids",
    "lease",
    "lock_clause",
    "locks_take",
    "open_item_ids",
    "release_held",
    "requeue",
    "reserve_size",
    "reserve_strategy_share",
    "round_replace",
    "skipping_locked",
    "undone",
]
