"""The demo's sitting: the hall runs itself so that everything moves.

Used only with ``[roles.hall] scenario = "demo"`` (``voting.hall.role`` chooses
it). It acts through the same service calls the secretary's page uses; the
deputies' presses come from the simulated consoles (``voting.console.sim``),
through real GPIO code on mock pins.
"""

from __future__ import annotations

import asyncio
import logging
import random

from edge.errors import Refusal
from voting.hall.model import Question
from voting.hall.service import HallService
from voting.rules import Rule

log = logging.getLogger("hromada.hall.demo")

DEMO_AGENDA = [
    Question("1", "Про затвердження порядку денного", rule=Rule.majority_of_registered()),
    Question("2", "Про бюджет громади на 2027 рік", project_number="1201"),
    Question("3", "Про внесення змін до програми «Безпечна громада»", project_number="1202"),
    Question("4", "Про подолання вето сільського голови", project_number="1203", rule=Rule.two_thirds_of_total()),
    Question("5", "Про ремонт укриття в ліцеї", project_number="1204"),
    Question("6", "Про перерву в засіданні", rule=Rule.majority_of_registered()),
]


async def run_hall_demo(service: HallService, vote_s: float = 12.0, pause_s: float = 8.0) -> None:
    """Start a sitting, wait for registration, put the agenda to the vote, again and again."""
    await asyncio.sleep(3.0)  # let the consoles connect
    session = 1
    while True:
        try:
            if service.state is None or service.state.current_vote is None:
                await service.start_sitting(session)
            await service.set_agenda([q.to_dict() for q in DEMO_AGENDA])
            for _ in range(60):
                if service.state and service.state.quorum.met and len(service.state.registered) >= \
                        len(service.state.voters) - 3:
                    break
                await asyncio.sleep(0.5)
            await service.set_registration(False)
            for question in DEMO_AGENDA:
                if service.state and service.state.current_vote is not None:
                    await service.close_vote(service.state.current_vote.uid)
                await asyncio.sleep(pause_s)
                override = None if service.state and service.state.quorum.met else "Демо-сценарій"
                uid = await service.open_vote(question, vote_s * random.uniform(0.9, 1.2), override)
                await asyncio.sleep(vote_s * 1.3)
                await service.close_vote(uid)  # idempotent if the timer closed it
            await asyncio.sleep(pause_s * 3)
        except Refusal as exc:  # by the rules or by the hall
            log.warning("demo scenario: %s", exc)
            await asyncio.sleep(5.0)
        session += 1
