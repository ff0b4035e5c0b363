"""``hromada voting …``: the session hall's commands, added to ``hromada`` through ``edge.roles.ROLE_COMMANDS``.

    hromada voting verify --config FILE           recompute the hall's hash chain; name the first broken link
    hromada voting secretary-link --config FILE   print the secretary page's address with its token

Both read the hall node's own files beside a running node (the database is
in WAL mode). ``verify`` exits 0 when the audit log is intact, 3 when it is
broken, 1 when there is no hall database.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edge.config import load_node_config

EXIT_BROKEN = 3


def register(sub: Any) -> None:
    """Add ``voting`` and its subcommands to the ``hromada`` parser's subparsers ``sub``."""
    voting = sub.add_parser("voting", help="session hall: verify the audit log, the secretary's link")
    voting.set_defaults(role_command=cmd_voting)
    voting_sub = voting.add_subparsers(dest="voting_cmd", required=True)
    v = voting_sub.add_parser("verify", help="recompute the hall's hash chain; name the first broken link")
    v.add_argument("--config", required=True, help="the hall node's TOML file")
    v = voting_sub.add_parser("secretary-link", help="print the secretary page's address with its token")
    v.add_argument("--config", required=True, help="the hall node's TOML file")


def cmd_voting(args: argparse.Namespace) -> int:
    """Run ``hromada voting verify`` or ``hromada voting secretary-link``; the exit code."""
    cfg = load_node_config(args.config)
    if args.voting_cmd == "secretary-link":
        from voting.hall.api import secretary_token

        host = cfg.node.listen if cfg.node.listen != "0.0.0.0" else "127.0.0.1"
        print(f"http://{host}:{cfg.node.port}/hall/secretary#token={secretary_token(cfg.state_dir)}")
        return 0
    from edge.store import connect
    from voting.hall import records as journal

    db_path = cfg.state_dir / "node.sqlite"
    if not db_path.exists():
        print(f"hromada: {db_path}: no hall database here", file=sys.stderr)
        return 1
    result = journal.verify(connect(db_path))
    if result.ok:
        print(f"Журнал цілісний: {result.rows} записів / audit log intact: {result.rows} rows")
        return 0
    print(f"ЖУРНАЛ ПОШКОДЖЕНО: перший зламаний запис №{result.first_broken_seq} ({result.reason}) / "
          f"AUDIT LOG BROKEN at row {result.first_broken_seq}: {result.reason}")
    return EXIT_BROKEN
