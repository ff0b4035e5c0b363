"""The roles a node can run, and where each role's code lives.

A role is found by name through ``ROLE_FACTORIES`` ("module:attribute"), so
``edge`` never imports a role package it does not run (a camera board does
not load pygame). A role without a factory yet runs as a plain node: it
enrolls, announces itself and reports health, and does nothing else.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

NODE_ROLES: tuple[str, ...] = (
    "hall",
    "console",
    "hall-display",
    "queue",
    "kiosk",
    "queue-display",
    "camera",
    "power",
)

# name -> "package.module:factory"; a factory takes (RoleContext, dict config)
# and returns an object with the Role interface of edge.node.
ROLE_FACTORIES: dict[str, str] = {
    "hall": "voting.hall.role:create",
    "hall-display": "voting.display.role:create",
    "console": "voting.console.role:create",
    "queue": "kiosk.queue.role:create",
    "queue-display": "kiosk.calling.role:create",
    "power": "power.role:create",
    "camera": "cameras.role:create",
    "kiosk": "kiosk.terminal.role:create",
}


def factory_for(name: str) -> Callable[..., Any] | None:
    """The factory of a role, or None when the role runs as a plain node."""
    target = ROLE_FACTORIES.get(name)
    return None if target is None else load(target)


# Each role's settings classes by the heading they have in docs/configuration.md.
ROLE_SETTINGS: dict[str, str] = {
    "[roles.hall]": "voting.hall.settings:HallSettings",
    "[roles.hall-display]": "voting.display.settings:HallDisplaySettings",
    "[roles.console]": "voting.console.settings:ConsoleSettings",
    "[[roles.console.seats]]": "voting.console.settings:SeatSection",
    "card_reader = {…} (in [roles.console] or a seat)": "voting.console.settings:CardReaderSection",
    "[roles.queue]": "kiosk.queue.settings:QueueSettings",
    "[roles.queue-display]": "kiosk.calling.settings:CallingSettings",
    "[roles.kiosk]": "kiosk.terminal.settings:KioskSettings",
    "[roles.power]": "power.settings:PowerSettings",
    "[roles.power.ups]": "power.settings:UpsSection",
    "[roles.power.mains]": "power.settings:MainsSection",
    "[roles.power.generator]": "power.settings:GeneratorSection",
    "[roles.power.policy]": "power.settings:PolicySection",
    "[roles.power.shutdown]": "power.settings:ShutdownSection",
    "[[roles.power.shutdown.steps]]": "power.settings:ShutdownStepSection",
    "[roles.camera]": "cameras.settings:CameraSettings",
    "[[roles.camera.cameras]]": "cameras.settings:CameraSection",
}


# Hub extensions: "module:function" called with the Hub before it starts, to
# add migrations, ingest handlers and routes (e.g. roll-call open data).
HUB_EXTENSIONS: tuple[str, ...] = (
    "voting.hall.hubside:extend",
    "power.hubside:extend",
    "kiosk.queue.hubside:extend",
    "cameras.hubside:extend",
)


# Role subcommands of ``hromada``: command name -> "module:function". The
# function is given the parser's subparsers, adds its command with
# ``set_defaults(role_command=handler)``, and the handler (args) -> exit code
# runs it; so ``edge.cli`` names no role.
ROLE_COMMANDS: dict[str, str] = {
    "voting": "voting.hall.cli:register",
}


def load(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
