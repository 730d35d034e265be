"""App Home: publish each person's Home tab (views.publish), when they open it and when a
request that concerns them changes.

What a tab shows is read from the store at the moment it is published, and who may decide is
`Approvals.may_decide`, the one question every surface asks. So any replica may publish any
tab: with several replicas the last write wins, and it carries what the store said a moment
before. (Two replicas publishing for one person at once can leave the earlier reading on top;
the next change, or the person opening the tab again, shows the latest.)

Refreshing is bounded. A change (filed, decided, executed, failed, expired) republishes the
tabs of its requester and of at most MAX_REFRESH of the people who may decide it (the approvers
listed directly and the members of approver groups, in ID order); anyone beyond the bound sees
the change the next time they open the tab, which always publishes afresh (at once, unpaced:
someone is looking). views.publish is Tier 4 (100+ a minute), so changes do not publish at
once: they make tabs due, and one job publishes what is due, oldest first, paced by a token
bucket (PUBLISH_BURST at once, then one per PUBLISH_INTERVAL, on the injected clock). A tab
already due when another change comes is published once, for both: it is read from the store
when its turn comes. On one replica a person's publishes never overlap: a change during one
marks the tab to be published once more after it, so the last publish carries the last change.
A 429 is retried after its Retry-After by the client (bot/app.py). Publishing is a courtesy: a
failure (Slack refuses, the store cannot be read) is logged and never breaks the flow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.engine import Approvals
from bot.cards.base import Reply
from bot.cards.batch import entries
from bot.cards.home import MAX_RECENT, home_view
from bot.clock import Clock
from bot.jobs import Jobs
from bot.slack.ids import USER_ID
from bot.store import InviteRequest, RequestStore, Status

log = logging.getLogger("chime_bot.home")

MAX_REFRESH = 25  # people besides the requester whose tab one change republishes
# views.publish is Tier 4, "100+ per minute" (docs.slack.dev/reference/methods/views.publish;
# .../apis/web-api/rate-limits: bursts are tolerated, the rate is per minute): changes publish
# up to PUBLISH_BURST tabs at once, then 80 a minute, leaving room for the tabs people open.
PUBLISH_BURST = 10
PUBLISH_INTERVAL = 0.75
DECIDABLE = (Status.PENDING, Status.FAILED)


@dataclass
class Home:
    store: RequestStore
    approvals: Approvals
    client: AsyncWebClient
    clock: Clock
    jobs: Jobs
    _busy: set[str] = field(default_factory=set)
    _again: set[str] = field(default_factory=set)
    # Tabs a change made due, in order, each once however many changes concern it.
    _due: dict[str, None] = field(default_factory=dict)
    _pumping: bool = False
    _tokens: float = PUBLISH_BURST
    _refilled: float | None = None

    async def view_for(self, user: str, notice: Reply | None = None) -> dict[str, Any]:
        """`user`'s Home tab now: what they may decide, and their own latest requests."""
        now = self.clock.now()
        # A bulk invite is one entry, listed by its lead (the request its buttons name), as
        # `/chime pending` lists it: its other requests follow the lead's decision.
        listed = entries(await self.approvals.open_requests())
        sizes = {e.id: len(e.requests) for e in listed if e.is_bulk}
        waiting = [e.lead for e in listed if e.lead_listed and e.lead.status in DECIDABLE]
        decidable: list[InviteRequest] = []
        approved: list[InviteRequest] = []  # theirs is in: waiting for someone else
        for request in waiting:
            if (await self.approvals.may_decide(user, request)).allowed:
                mine = request.status == Status.PENDING and user in request.approvals
                (approved if mine else decidable).append(request)
        recent = [
            r
            for r in await self.store.recent_by_requester(user, limit=MAX_RECENT)
            if r.batch_id in (None, r.id)
        ]
        return home_view(
            user,
            decidable=decidable,
            recent=recent,
            now=now,
            notice=notice,
            batch_sizes=sizes,
            approved=approved,
        )

    async def publish(self, user: str, notice: Reply | None = None) -> bool:
        """Publish `user`'s tab; False (and a log line) if it could not be."""
        if not USER_ID.fullmatch(user):
            return False
        try:
            view = await self.view_for(user, notice)
            await self.client.views_publish(user_id=user, view=view)
            return True
        except SlackApiError as exc:
            log.warning("could not publish the App Home of %s: %s", user, exc.response.get("error"))
        except Exception:
            log.warning("could not publish the App Home of %s", user, exc_info=True)
        return False

    def opened(self, user: str) -> None:
        """`user` opened the tab: publish it, after the ack."""
        self._spawn(self._latest(user), f"home:{user}")

    def changed(self, request: InviteRequest) -> None:
        """`request` was filed or changed: refresh the tabs it appears in (see above)."""
        self._spawn(self._refresh(request), f"home-refresh:{request.id}")

    async def _refresh(self, request: InviteRequest) -> None:
        for user in [request.requester, *await self.deciders(request)]:
            self._due.setdefault(user, None)  # already due: that publish shows this change too
        if not self._pumping:
            self._pumping = True
            if not self.jobs.spawn(self._pump(), name="home-publish"):
                self._pumping = False
                log.warning("no room to publish App Home; tabs are shown afresh when next opened")

    async def _pump(self) -> None:
        """Publish the tabs that are due, one at a time, oldest first, paced (see above)."""
        try:
            while self._due:
                user = next(iter(self._due))
                del self._due[user]  # a change from now on makes it due again
                await self._pace()
                await self._latest(user)
        finally:
            self._pumping = False

    async def _pace(self) -> None:
        """A token bucket: PUBLISH_BURST publishes at once, then one per PUBLISH_INTERVAL."""
        now = self.clock.monotonic()
        if self._refilled is not None:
            earned = (now - self._refilled) / PUBLISH_INTERVAL
            self._tokens = min(float(PUBLISH_BURST), self._tokens + earned)
        self._refilled = now
        if self._tokens < 1:
            await self.clock.sleep((1 - self._tokens) * PUBLISH_INTERVAL)
            self._tokens, self._refilled = 1.0, self.clock.monotonic()
        self._tokens -= 1

    async def deciders(self, request: InviteRequest) -> list[str]:
        """Up to MAX_REFRESH people who may decide `request`, in ID order."""
        approvers = self.approvals.approvers
        # The request's own account's approvers (CHIME_POLICY_FILE), not the environment's.
        rules = self.approvals.deciders.rules(request.account_id, request.account_name).rules
        # A group that cannot be read now leaves out its members (they wait a while), no one else.
        people = (await approvers.expanded(rules))[0].approvers
        found: list[str] = []
        for user in sorted(people - {request.requester}):
            if (await self.approvals.may_decide(user, request)).allowed:
                found.append(user)
                if len(found) == MAX_REFRESH:
                    break
        return found

    async def _latest(self, user: str) -> None:
        if user in self._busy:
            self._again.add(user)  # the publish in flight may predate this change
            return
        self._busy.add(user)
        try:
            while True:
                self._again.discard(user)
                await self.publish(user)
                if user not in self._again:
                    return
        finally:
            self._busy.discard(user)

    def _spawn(self, work: Any, name: str) -> None:
        if not self.jobs.spawn(work, name=name):
            log.warning("no room to publish App Home (%s); it is shown when next opened", name)
