"""The ``hromada`` command line.

    hromada node --config FILE            run the roles of one node
    hromada hub --config FILE             run the hub
    hromada hub token --config FILE --site S --role R [--ttl S] [--pre-approve]
    hromada hub pending|nodes --config FILE
    hromada hub approve|reject|revoke NODE_ID --config FILE
    hromada demo                          the whole system on this machine
    hromada ROLE-COMMAND …                a role's own commands (edge.roles.ROLE_COMMANDS)

A wrong configuration is refused with the file, the key and the reason, and
exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from typing import Any, Sequence

from edge.clock import Clock
from edge.config import ConfigError, HubConfig, load_hub_config, load_node_config
from edge.roles import ROLE_COMMANDS
from edge.roles import load as load_role_part

EXIT_CONFIG = 2


def _hub_db(config: HubConfig) -> Any:
    """The hub's database, opened beside a running hub (WAL allows it)."""
    from edge.hub.schema import MIGRATIONS
    from edge.store import connect, migrate

    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = connect(config.state_dir / "hub.sqlite")
    migrate(db, MIGRATIONS)
    return db


def _hub_fingerprint(config: HubConfig) -> str:
    from edge.identity import Identity

    return Identity.load_or_create(config.state_dir, "hub.key", prefix="h").fingerprint


def cmd_hub_token(config: HubConfig, args: argparse.Namespace) -> int:
    from edge.hub import registry
    from edge.store import transaction

    why = registry.check_token_roles(args.role)
    if why is not None:
        print(f"Неправильні ролі / wrong roles: {why}", file=sys.stderr)
        return 2
    ttl = args.ttl if args.ttl is not None else config.hub.token_ttl_s
    if not math.isfinite(ttl) or not 60 <= ttl <= 30 * 86_400:
        print("Неправильний --ttl: від 60 секунд до 30 діб / wrong --ttl: 60 s to 30 days", file=sys.stderr)
        return 2
    db = _hub_db(config)
    with transaction(db) as conn:
        code, expires = registry.make_token(conn, _hub_fingerprint(config), args.site, args.role, ttl,
                                            pre_approved=args.pre_approve, note=args.note or "", actor=args.actor)
    until = Clock(config.hub.timezone).local(expires).strftime("%Y-%m-%d %H:%M %Z")  # the hub's zone, e.g. EET
    if args.quiet:
        print(code)
        return 0
    print(f"Код реєстрації вузла / Enrollment code (одноразовий / single use, дійсний до / valid until {until}):")
    print()
    print(f"    {code}")
    print()
    print(f"Майданчик / site: {args.site}   ролі / roles: {args.role}   "
          f"{'схвалено наперед / pre-approved' if args.pre_approve else 'потребує схвалення / needs approval'}")
    qr = _qr_text(str(code))
    if qr:
        print(qr)
    return 0


def _qr_text(text: str) -> str:
    try:
        from edge.qr import qr_terminal
    except ImportError:
        return ""
    return qr_terminal(text)


def cmd_hub_list(config: HubConfig, args: argparse.Namespace) -> int:
    from edge.hub import registry

    db = _hub_db(config)
    if args.hub_cmd == "pending":
        nodes = registry.list_nodes(db, "pending")
        discovered = registry.list_discovered(db)
    else:
        nodes = registry.list_nodes(db)
        discovered = []
    if args.json:
        print(json.dumps({"nodes": nodes, "discovered": discovered}, ensure_ascii=False, indent=2))
        return 0
    if not nodes and not discovered:
        print("Немає вузлів / no nodes")
    for n in nodes:
        state = n["status"] if n["status"] != "approved" else ("online" if n["online"] else "offline")
        print(f"{n['node_id']}  {n['name']:<20} {n['site']:<14} {','.join(n['roles']):<16} {state:<9} "
              f"{n['address'] or '-'}  {n['last_seen'] or '-'}")
    for d in discovered:
        print(f"{d['node_id']}  {d['instance']:<20} (знайдено mDNS, не зареєстровано / discovered, not enrolled) "
              f"{d['addresses']}:{d['port']}")
    return 0


def cmd_hub_decide(config: HubConfig, args: argparse.Namespace) -> int:
    from edge.hub import registry
    from edge.store import transaction

    db = _hub_db(config)
    try:
        with transaction(db) as conn:
            status = registry.decide(conn, args.node_id, args.hub_cmd, args.actor)
    except registry.EnrollmentError as exc:
        print(f"hromada: {exc.reason}", file=sys.stderr)
        return 1
    print(f"{args.node_id}: {status.value}")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from pathlib import Path

    from provisioning import provision as p
    from provisioning.detect import detect

    answers = p.load_answers(Path(args.answers)) if args.answers else p.Answers()
    for key, value in (("name", args.name), ("site", args.site), ("hub_url", args.hub_url),
                       ("enrollment_code", args.code), ("address", args.address), ("pin_factory", args.pin_factory),
                       ("state_dir", args.state_dir), ("venv", args.venv), ("port", args.port)):
        if value is not None:
            setattr(answers, key, value)
    if args.roles:
        answers.roles = tuple(r.strip() for r in args.roles.split(",") if r.strip())
    if args.role_settings:
        answers.role_settings = Path(args.role_settings).read_text(encoding="utf-8")
    if args.no_enroll:
        answers.enroll = False
    hw = detect()
    t = p.TEXTS[args.lang]
    print(t["hardware"].format(serial=", ".join(hw.serial_ports) or "—", video=", ".join(hw.video_devices) or "—",
                               gpio=", ".join(hw.gpio_chips) or "—"))
    missing = [k for k in ("roles", "name", "site") if not getattr(answers, k)]
    if missing:
        if not sys.stdin.isatty():
            print("hromada: " + t["missing"].format(keys=", ".join(missing)), file=sys.stderr)
            return EXIT_CONFIG
        answers = p.ask_missing(answers, args.lang)
    root = Path(args.root)
    plan = p.build_plan(answers, root, live=str(root.resolve()) == "/")
    p.run_plan(plan, args.dry_run, args.lang)
    return 0


def cmd_hub_user(config: HubConfig, args: argparse.Namespace) -> int:
    from edge.hub import auth, registry
    from edge.store import transaction

    db = _hub_db(config)
    if args.user_cmd == "list":
        for name, role, disabled, must in db.execute(
                "SELECT username, role, disabled, must_change_password FROM users ORDER BY username"):
            print(f"{name:<24} {role:<11} {'вимкнено / disabled' if disabled else ''}"
                  f"{'  (пароль ще не змінено / one-time password not changed yet)' if must else ''}")
        return 0
    if args.user_cmd == "disable":
        with transaction(db) as conn:
            n = conn.execute("UPDATE users SET disabled = 1 WHERE username = ?", (args.username,)).rowcount
            conn.execute("DELETE FROM sessions WHERE username = ?", (args.username,))
            registry.log_admin(conn, args.actor, "user-disable", args.username)
        print(f"{args.username}: {'disabled' if n else 'no such account'}")
        return 0 if n else 1
    try:
        with transaction(db) as conn:
            password, secret = auth.add_user(conn, args.username, auth.Role(args.role))
            registry.log_admin(conn, args.actor, "user-add", args.username, args.role)
    except (ValueError, Exception) as exc:
        print(f"hromada: cannot add {args.username!r}: {exc}", file=sys.stderr)
        return 1
    uri = auth.totp_uri(secret, args.username)
    print(f"Обліковий запис / account: {args.username} ({args.role})")
    print(f"Одноразовий пароль / one-time password (змініть при першому вході / change at first login): {password}")
    print(f"TOTP (Google Authenticator, FreeOTP…): {secret}")
    print(f"    {uri}")
    qr = _qr_text(uri)
    if qr:
        print(qr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hromada", description="hromada-edge: громада's edge boards and hub")
    sub = parser.add_subparsers(dest="command", required=True)

    node = sub.add_parser("node", help="run the roles of one node")
    node.add_argument("--config", required=True, help="the node's TOML file")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="the hub's TOML file")
    common.add_argument("--actor", default=argparse.SUPPRESS, help="who does this (recorded in the admin log)")

    hub = sub.add_parser("hub", help="run the hub, or administer it", parents=[common])
    hub_sub = hub.add_subparsers(dest="hub_cmd", required=False)
    hub_sub.add_parser("run", parents=[common], help="run the hub (the default)")
    tok = hub_sub.add_parser("token", parents=[common], help="make a one-time enrollment code")
    tok.add_argument("--site", required=True)
    tok.add_argument("--role", required=True, help="the roles the node will run, exactly, comma separated (e.g. queue,queue-display)")
    tok.add_argument("--ttl", type=float, default=None, help="seconds the code stays valid")
    tok.add_argument("--pre-approve", action="store_true", help="the node is approved as soon as it enrolls")
    tok.add_argument("--note", default="")
    tok.add_argument("--quiet", action="store_true", help="print only the code")
    for name in ("pending", "nodes"):
        p = hub_sub.add_parser(name, parents=[common], help=f"list {name} nodes")
        p.add_argument("--json", action="store_true")
    for name in ("approve", "reject", "revoke"):
        p = hub_sub.add_parser(name, parents=[common], help=f"{name} a node")
        p.add_argument("node_id")
    user = hub_sub.add_parser("user", parents=[common], help="dashboard accounts")
    user_sub = user.add_subparsers(dest="user_cmd", required=True)
    p = user_sub.add_parser("add", parents=[common], help="make an account; prints a one-time password and TOTP")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["admin", "technician", "viewer", "police"])
    user_sub.add_parser("list", parents=[common], help="list accounts")
    p = user_sub.add_parser("disable", parents=[common], help="disable an account and end its sessions")
    p.add_argument("username")

    for target in ROLE_COMMANDS.values():  # the roles' own commands (e.g. `hromada voting …`)
        load_role_part(target)(sub)

    prov = sub.add_parser("provision", help="set up this board: configuration, key, enrollment, systemd units")
    prov.add_argument("--root", default="/", help="write under this directory instead of / (images, tests)")
    prov.add_argument("--dry-run", action="store_true", help="print what would be done, do nothing")
    prov.add_argument("--lang", choices=["uk", "en"], default="uk")
    prov.add_argument("--answers", help="TOML answers file (for many boards alike)")
    prov.add_argument("--roles", help="comma separated roles")
    for flag in ("name", "site", "hub-url", "code", "address", "pin-factory", "state-dir", "venv"):
        prov.add_argument(f"--{flag}")
    prov.add_argument("--port", type=int)
    prov.add_argument("--role-settings", help="file with the [roles.*] tables for this board")
    prov.add_argument("--no-enroll", action="store_true", help="write everything but do not contact the hub")

    doctor = sub.add_parser("doctor", help="check this node and say how to fix what is wrong")
    doctor.add_argument("--config", default="/etc/hromada/node.toml")
    doctor.add_argument("--lang", choices=["uk", "en"], default="uk")

    demo = sub.add_parser("demo", help="run the whole system on this machine with simulated hardware")
    demo.add_argument("--state", default="demo-state", help="directory for the demo's state (wiped at start)")
    demo.add_argument("--port", type=int, default=8600, help="the hub's port (0: any free port)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "node":
            from edge.node import run_node
            from edge.runtime import setup_logging

            cfg = load_node_config(args.config)
            setup_logging(cfg.node.log_level, f"{','.join(cfg.node.roles)} {cfg.node.name}")
            asyncio.run(run_node(cfg))
            return 0
        if args.command == "hub":
            if not hasattr(args, "config"):
                print("hromada hub: --config FILE is required", file=sys.stderr)
                return EXIT_CONFIG
            args.actor = getattr(args, "actor", None) or "cli"
            hcfg = load_hub_config(args.config)
            cmd = args.hub_cmd or "run"
            if cmd == "run":
                from edge.hub.app import run_hub
                from edge.runtime import setup_logging

                setup_logging(hcfg.hub.log_level, f"hub {hcfg.hub.name}")
                asyncio.run(run_hub(hcfg))
                return 0
            if cmd == "token":
                return cmd_hub_token(hcfg, args)
            if cmd in ("pending", "nodes"):
                return cmd_hub_list(hcfg, args)
            if cmd == "user":
                return cmd_hub_user(hcfg, args)
            return cmd_hub_decide(hcfg, args)
        if args.command == "provision":
            return cmd_provision(args)
        if args.command == "doctor":
            from provisioning.doctor import run_doctor

            return run_doctor(args.config, args.lang)
        role_command = getattr(args, "role_command", None)
        if role_command is not None:
            return int(role_command(args))
        if args.command == "demo":
            from edge.demo import run_demo

            return run_demo(args.state, args.port)
    except ConfigError as exc:
        print(f"hromada: configuration refused: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
