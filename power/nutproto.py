"""The NUT network protocol (upsd, TCP 3493) as pure line parsing and formatting.

Words are split exactly as upsd splits them (NUT ``common/parseconf.c``):
whitespace separates words, ``"..."`` groups them, a backslash takes the next
character literally, ``#`` outside quotes starts a comment, ``=`` outside
quotes is a word of its own, characters outside 0x20..0x7F are dropped, at
most 32 words of 512 characters are kept. Both the client side (requests
out, replies in) and a read-only server (requests in, replies out) are here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Mapping

ARG_LIMIT = 32
WORDLEN_LIMIT = 512
NETVER = "1.3"
HELP_TEXT = "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS"


class NutErrorCode(enum.StrEnum):
    """Codes after ``ERR`` (NUT ``server/neterr.h``)."""

    ACCESS_DENIED = "ACCESS-DENIED"
    UNKNOWN_UPS = "UNKNOWN-UPS"
    VAR_NOT_SUPPORTED = "VAR-NOT-SUPPORTED"
    CMD_NOT_SUPPORTED = "CMD-NOT-SUPPORTED"
    INVALID_ARGUMENT = "INVALID-ARGUMENT"
    INSTCMD_FAILED = "INSTCMD-FAILED"
    SET_FAILED = "SET-FAILED"
    READONLY = "READONLY"
    TOO_LONG = "TOO-LONG"
    FEATURE_NOT_SUPPORTED = "FEATURE-NOT-SUPPORTED"
    FEATURE_NOT_CONFIGURED = "FEATURE-NOT-CONFIGURED"
    ALREADY_SSL_MODE = "ALREADY-SSL-MODE"
    DRIVER_NOT_CONNECTED = "DRIVER-NOT-CONNECTED"
    DATA_STALE = "DATA-STALE"
    ALREADY_LOGGED_IN = "ALREADY-LOGGED-IN"
    INVALID_PASSWORD = "INVALID-PASSWORD"
    ALREADY_SET_PASSWORD = "ALREADY-SET-PASSWORD"
    INVALID_USERNAME = "INVALID-USERNAME"
    ALREADY_SET_USERNAME = "ALREADY-SET-USERNAME"
    USERNAME_REQUIRED = "USERNAME-REQUIRED"
    PASSWORD_REQUIRED = "PASSWORD-REQUIRED"
    UNKNOWN_COMMAND = "UNKNOWN-COMMAND"
    INVALID_VALUE = "INVALID-VALUE"


class NutProtocolError(ValueError):
    """A line that does not follow the protocol (garbled, unterminated, unexpected)."""


class NutRemoteError(Exception):
    """The peer answered ``ERR <code>``; ``code`` compares equal to NutErrorCode members."""

    def __init__(self, code: str, detail: str = ""):
        self.code = code
        self.detail = detail
        super().__init__(f"ERR {code} {detail}".rstrip())


# --- words ------------------------------------------------------------------

class _St(enum.Enum):
    START = 1  # looking for the start of a word
    COMMENT = 2  # skipping to the end of the line
    QUOTED = 3
    QUOTED_LITERAL = 4  # after a backslash inside quotes
    WORD = 5
    WORD_LITERAL = 6  # after a backslash outside quotes


_C_SPACE = " \t\n\v\f\r"  # C isspace() in the "C" locale


class LineSplitter:
    """Feeds raw bytes in, gets whole lines out as word tuples, like upsd's ``pconf_char``.

    A newline inside quotes, or right after a backslash, does not end the
    line: upsd keeps reading, and so does this.
    """

    def __init__(self, arg_limit: int = ARG_LIMIT, wordlen_limit: int = WORDLEN_LIMIT):
        self._arg_limit = arg_limit
        self._wordlen_limit = wordlen_limit
        self._state = _St.START
        self._words: list[str] = []
        self._word: list[str] = []

    @property
    def pending(self) -> bool:
        """True when part of a line has been read but not its end."""
        return self._state is not _St.START or bool(self._words) or bool(self._word)

    def _add(self, ch: str) -> None:
        # CVE-2012-2944: upsd silently drops anything outside 0x20..0x7F.
        if 0x20 <= ord(ch) <= 0x7F and len(self._word) < self._wordlen_limit:
            self._word.append(ch)

    def _end_word(self) -> None:
        if len(self._words) < self._arg_limit:
            self._words.append("".join(self._word))
        self._word.clear()

    def _start(self, ch: str) -> _St:
        if ch == "#":
            return _St.COMMENT
        if ch in _C_SPACE:
            return _St.START
        if ch == "\\":
            return _St.WORD_LITERAL
        if ch == '"':
            return _St.QUOTED
        self._add(ch)
        if ch == "=":
            self._end_word()
            return _St.START
        return _St.WORD

    def feed(self, data: bytes | str) -> list[tuple[str, ...]]:
        text = data.decode("latin-1") if isinstance(data, bytes) else data
        lines: list[tuple[str, ...]] = []
        for ch in text:
            st = self._state
            if ch == "\n" and st in (_St.START, _St.COMMENT, _St.WORD):
                if st is _St.WORD:
                    self._end_word()
                lines.append(tuple(self._words))
                self._words.clear()
                self._state = _St.START
                continue
            if st is _St.START:
                self._state = self._start(ch)
            elif st is _St.COMMENT:
                pass
            elif st is _St.QUOTED:
                if ch == '"':
                    self._end_word()
                    self._state = _St.START
                elif ch == "\\":
                    self._state = _St.QUOTED_LITERAL
                else:
                    self._add(ch)
            elif st is _St.QUOTED_LITERAL:
                if ch != "\n":
                    self._add(ch)
                self._state = _St.QUOTED
            elif st is _St.WORD_LITERAL:
                if ch != "\n":
                    self._add(ch)
                self._state = _St.WORD
            elif ch == "#":
                self._end_word()
                self._state = _St.COMMENT
            elif ch in _C_SPACE:
                self._end_word()
                self._state = _St.START
            elif ch == "=":
                self._end_word()
                self._state = self._start(ch)
            elif ch == "\\":
                self._state = _St.WORD_LITERAL
            else:
                self._add(ch)
        return lines


def split_words(line: str) -> tuple[str, ...]:
    """Split one complete line (without its LF) into words as upsd would.

    Raises NutProtocolError when the line would run on into the next one
    (an open quote or a trailing backslash): upsd would wait for more.
    """
    if "\n" in line:
        raise NutProtocolError("a line must not contain LF")
    splitter = LineSplitter()
    lines = splitter.feed(line + "\n")
    if len(lines) != 1 or splitter.pending:
        raise NutProtocolError(f"unterminated quote or escape in {line!r}")
    return lines[0]


def quote(value: str) -> str:
    """``"value"`` with ``\\``, ``"`` and ``#`` escaped, as upsd's ``pconf_encode``."""
    if any(not 0x20 <= ord(c) <= 0x7E for c in value):
        raise ValueError(f"NUT carries printable ASCII only: {value!r}")
    return '"' + "".join("\\" + c if c in '\\"#' else c for c in value) + '"'


def join_words(words: tuple[str, ...] | list[str]) -> str:
    """A line of words, quoting only those that need it."""
    out = []
    for w in words:
        plain = w and not any(c in w for c in ' \t\v\f\r\\"#=') and w.isascii() and w.isprintable()
        out.append(w if plain else quote(w))
    return " ".join(out)


# Ukrainian national transliteration (КМУ 2010), so that "Зал засідань" reaches
# upsc as "Zal zasidan" rather than as question marks. Word-initial forms first.
_TRANSLIT = dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’ʼ",
                     "a b v h g d e ie zh z y i i i k l m n o p r s t u f kh ts ch sh shch - iu ia - - -"
                     .split()))
_TRANSLIT_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}


def ascii_only(text: str) -> str:
    """What NUT can carry: Ukrainian transliterated, anything else non-ASCII as '?'."""
    out = []
    for i, ch in enumerate(text):
        if 0x20 <= ord(ch) <= 0x7E:
            out.append(ch)
            continue
        low = ch.lower()
        prev = text[i - 1].lower() if i else " "
        initial = not (prev.isalpha() or prev in "'’ʼ")
        latin = (_TRANSLIT_INITIAL.get(low) if initial else None) or _TRANSLIT.get(low, "?")
        latin = "gh" if low == "г" and prev == "з" else latin  # зг → zgh, as the rules say
        latin = "" if latin == "-" else latin
        out.append(latin.capitalize() if ch != low else latin)
    return "".join(out)


# --- client side: requests out, replies in ----------------------------------

@dataclass(frozen=True, slots=True)
class NutRequest:
    """One request line; ``encode()`` gives the bytes to send."""

    words: tuple[str, ...]

    def encode(self) -> bytes:
        return (join_words(self.words) + "\n").encode("ascii")


def required(*words: str) -> NutRequest:
    return NutRequest(tuple(words))


def list_ups() -> NutRequest: return required("LIST", "UPS")
def list_var(ups: str) -> NutRequest: return required("LIST", "VAR", ups)
def list_cmd(ups: str) -> NutRequest: return required("LIST", "CMD", ups)
def list_rw(ups: str) -> NutRequest: return required("LIST", "RW", ups)
def list_client(ups: str) -> NutRequest: return required("LIST", "CLIENT", ups)
def get_var(ups: str, var: str) -> NutRequest: return required("GET", "VAR", ups, var)
def get_upsdesc(ups: str) -> NutRequest: return required("GET", "UPSDESC", ups)
def get_numlogins(ups: str) -> NutRequest: return required("GET", "NUMLOGINS", ups)
def username(name: str) -> NutRequest: return required("USERNAME", name)
def password(secret: str) -> NutRequest: return required("PASSWORD", secret)
def login(ups: str) -> NutRequest: return required("LOGIN", ups)
def logout() -> NutRequest: return required("LOGOUT")
def ver() -> NutRequest: return required("VER")
def netver() -> NutRequest: return required("NETVER")
def help_() -> NutRequest: return required("HELP")


def instcmd(ups: str, cmd: str, value: str | None = None) -> NutRequest:
    return required("INSTCMD", ups, cmd) if value is None else required("INSTCMD", ups, cmd, value)


@dataclass(frozen=True, slots=True)
class NutReply:
    """One reply line, split into words.

    ``kind`` is the first word upper-cased for protocol lines (OK, ERR, VAR,
    UPS, BEGIN, END, …) and ``TEXT`` for free text such as the VER answer.
    """

    kind: str
    args: tuple[str, ...]
    raw: str


# Item lines and how many words follow the keyword.
_ITEM_ARITY = {"VAR": 3, "UPS": 2, "RW": 3, "CMD": 2, "ENUM": 3, "RANGE": 4, "CLIENT": 2,
               "DESC": 3, "CMDDESC": 3, "UPSDESC": 2, "NUMLOGINS": 2}


def parse_reply(line: str) -> NutReply:
    """Parse one reply line (without LF); wrong shapes raise NutProtocolError."""
    head = line.split(None, 1)
    if not head:
        raise NutProtocolError("empty reply line")
    kind = head[0].upper()
    if kind not in _ITEM_ARITY and kind not in ("OK", "ERR", "BEGIN", "END", "TYPE"):
        return NutReply("TEXT", (), line)  # VER, NETVER, HELP answers: free text
    args = split_words(line.rstrip("\r"))[1:]
    if kind == "ERR" and not args:
        raise NutProtocolError("ERR without a code")
    if kind in _ITEM_ARITY and len(args) != _ITEM_ARITY[kind]:
        raise NutProtocolError(f"{kind} needs {_ITEM_ARITY[kind]} words: {line!r}")
    if kind == "TYPE" and len(args) < 3:
        raise NutProtocolError(f"TYPE needs ups, var and types: {line!r}")
    if kind in ("BEGIN", "END") and (not args or args[0].upper() != "LIST" or len(args) < 2):
        raise NutProtocolError(f"malformed list boundary: {line!r}")
    return NutReply(kind, args, line)


def raise_for_error(reply: NutReply) -> NutReply:
    """Turn ``ERR <code>`` into NutRemoteError; pass anything else through."""
    if reply.kind == "ERR":
        raise NutRemoteError(reply.args[0], " ".join(reply.args[1:]))
    return reply


def expect_var(line: str, ups: str, var: str) -> str:
    """The value from the answer to ``GET VAR ups var``."""
    reply = raise_for_error(parse_reply(line))
    if reply.kind != "VAR" or reply.args[:2] != (ups, var):
        raise NutProtocolError(f"expected VAR {ups} {var}, got {line!r}")
    return reply.args[2]


class ListCollector:
    """Collects the lines answering a LIST request until its END LIST line."""

    def __init__(self, request: NutRequest):
        words = request.words
        if len(words) < 2 or words[0].upper() != "LIST":
            raise ValueError("not a LIST request")
        self._head = (words[1].upper(), *words[2:])
        self.items: list[NutReply] = []
        self._begun = False
        self.done = False

    def feed(self, line: str) -> bool:
        """Take one line; True once the list is complete. ERR raises NutRemoteError."""
        reply = raise_for_error(parse_reply(line))
        if not self._begun:
            if reply.kind != "BEGIN" or self._norm(reply.args[1:]) != self._head:
                raise NutProtocolError(f"expected BEGIN LIST {' '.join(self._head)}: {line!r}")
            self._begun = True
            return False
        if reply.kind == "END":
            head = self._norm(reply.args[1:])
            # upsd (2.7, 2.8) ends the answer to LIST RANGE with "END LIST ENUM".
            quirk = self._head[0] == "RANGE" and head == ("ENUM", *self._head[1:])
            if head != self._head and not quirk:
                raise NutProtocolError(f"END does not match BEGIN: {line!r}")
            self.done = True
            return True
        if reply.kind != self._head[0]:
            raise NutProtocolError(f"unexpected line inside LIST {self._head[0]}: {line!r}")
        self.items.append(reply)
        return False

    @staticmethod
    def _norm(args: tuple[str, ...]) -> tuple[str, ...]:
        return (args[0].upper(), *args[1:]) if args else ()


def variables(items: list[NutReply]) -> dict[str, str]:
    """``{name: value}`` from the VAR items of a LIST VAR answer."""
    return {r.args[1]: r.args[2] for r in items if r.kind == "VAR"}


# --- read-only server -------------------------------------------------------

@dataclass(frozen=True)
class UpsView:
    """What the server knows of one UPS at the moment of a request."""

    name: str
    description: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    commands: tuple[str, ...] = ()
    connected: bool = True  # False: the driver (our Q1 or NUT reader) is not running
    stale: bool = False  # True: no fresh reading within MAXAGE
    fsd: bool = False  # forced shutdown set by our shutdown plan; latches
    clients: tuple[str, ...] = ()  # addresses of logged-in secondaries
    numlogins: int = 0


@dataclass(frozen=True)
class ServerConfig:
    """Who may LOGIN (upsmon secondaries) and what VER says."""

    monitors: Mapping[str, str] = field(default_factory=dict)  # username -> password
    ver_text: str = "hromada-edge power (NUT network protocol 1.3, read-only)"


@dataclass(frozen=True, slots=True)
class Session:
    """One client connection's protocol state."""

    username: str | None = None
    password: str | None = None
    login_ups: str | None = None
    closed: bool = False  # LOGOUT answered: the shell closes the socket


def _err(code: NutErrorCode) -> tuple[str, ...]:
    return (f"ERR {code}",)


def _available(ups: UpsView | None) -> tuple[str, ...] | None:
    """upsd's ``ups_available``: the error lines, or None when data may be served."""
    if ups is None:
        return _err(NutErrorCode.UNKNOWN_UPS)
    if not ups.connected:
        return _err(NutErrorCode.DRIVER_NOT_CONNECTED)
    if ups.stale:
        return _err(NutErrorCode.DATA_STALE)
    return None


def _value(ups: UpsView, var: str) -> str:
    value = ups.variables[var]
    if var == "ups.status" and ups.fsd and "FSD" not in value.split():
        value = f"FSD {value}"  # as upsd does once FSD has been set
    return quote(ascii_only(value))


def _get(args: tuple[str, ...], upses: Mapping[str, UpsView], cfg: ServerConfig) -> tuple[str, ...]:
    if len(args) < 2:
        return _err(NutErrorCode.INVALID_ARGUMENT)
    sub, name = args[0].upper(), args[1]
    ups = upses.get(name)
    if sub == "UPSDESC":
        if ups is None:
            return _err(NutErrorCode.UNKNOWN_UPS)
        return (f"UPSDESC {name} {quote(ascii_only(ups.description) or 'Unavailable')}",)
    if sub == "NUMLOGINS":
        return _available(ups) or (f"NUMLOGINS {name} {ups.numlogins}",)
    if len(args) < 3 or sub not in ("VAR", "TYPE", "DESC", "CMDDESC"):
        return _err(NutErrorCode.INVALID_ARGUMENT)
    var = args[2]
    if sub == "VAR" and var.lower() in ("server.info", "server.version"):
        text = cfg.ver_text if var.lower() == "server.info" else NETVER
        return (f"VAR {name} {var.lower()} {quote(ascii_only(text))}",)
    if problem := _available(ups):
        return problem
    if sub in ("CMDDESC", "DESC"):
        return (f'{sub} {name} {var} "Description unavailable"',)
    if var not in ups.variables:
        return _err(NutErrorCode.VAR_NOT_SUPPORTED)
    if sub == "VAR":
        return (f"VAR {name} {var} {_value(ups, var)}",)
    try:
        float(ups.variables[var])
        return (f"TYPE {name} {var} NUMBER",)
    except ValueError:
        return (f"TYPE {name} {var} STRING:{max(len(ups.variables[var]), 1)}",)


def _list(args: tuple[str, ...], upses: Mapping[str, UpsView]) -> tuple[str, ...]:
    if not args:
        return _err(NutErrorCode.INVALID_ARGUMENT)
    sub = args[0].upper()
    if sub == "UPS":
        body = tuple(f"UPS {u.name} {quote(ascii_only(u.description) or 'Description unavailable')}"
                     for u in upses.values())
        return ("BEGIN LIST UPS", *body, "END LIST UPS")
    if len(args) < 2 or sub not in ("VAR", "RW", "CMD", "CLIENT", "ENUM", "RANGE"):
        return _err(NutErrorCode.INVALID_ARGUMENT)
    name = args[1]
    ups = upses.get(name)
    if sub == "CLIENT":
        if ups is None:
            return _err(NutErrorCode.UNKNOWN_UPS)
        body = tuple(f"CLIENT {name} {addr}" for addr in ups.clients)
    elif sub in ("ENUM", "RANGE"):
        if len(args) < 3:
            return _err(NutErrorCode.INVALID_ARGUMENT)
        if problem := _available(ups):
            return problem
        if args[2] not in ups.variables:
            return _err(NutErrorCode.VAR_NOT_SUPPORTED)
        name = f"{name} {args[2]}"
        body = ()  # read-only: no variable has choices or a settable range
    else:
        if problem := _available(ups):
            return problem
        if sub == "VAR":
            body = tuple(f"VAR {name} {v} {_value(ups, v)}" for v in sorted(ups.variables))
        elif sub == "CMD":
            body = tuple(f"CMD {name} {c}" for c in ups.commands)
        else:
            body = ()  # RW: nothing is writable here
    return (f"BEGIN LIST {sub} {name}", *body, f"END LIST {sub} {name}")


def respond(words: tuple[str, ...], session: Session, upses: Mapping[str, UpsView],
            cfg: ServerConfig) -> tuple[Session, tuple[str, ...]]:
    """Answer one request as a read-only upsd would; lines are returned without LF.

    Anything that would change the UPS (SET, INSTCMD, FSD, PRIMARY) is refused
    with ACCESS-DENIED after the same checks upsd makes first.
    """
    if not words:
        return session, _err(NutErrorCode.UNKNOWN_COMMAND)
    verb, args = words[0].upper(), words[1:]
    if verb in ("VER", "NETVER", "PROTVER", "HELP", "LOGOUT", "STARTTLS") and args:
        return session, _err(NutErrorCode.INVALID_ARGUMENT)
    if verb == "VER":
        return session, (ascii_only(cfg.ver_text),)
    if verb in ("NETVER", "PROTVER"):
        return session, (NETVER,)
    if verb == "HELP":
        return session, (HELP_TEXT,)
    if verb == "STARTTLS":
        return session, _err(NutErrorCode.FEATURE_NOT_CONFIGURED)
    if verb == "LOGOUT":
        return replace(session, closed=True), ("OK Goodbye",)
    if verb == "GET":
        return session, _get(args, upses, cfg)
    if verb == "LIST":
        return session, _list(args, upses)
    if verb in ("USERNAME", "PASSWORD"):
        if len(args) != 1:
            return session, _err(NutErrorCode.INVALID_ARGUMENT)
        attr = verb.lower()
        if getattr(session, attr) is not None:
            return session, _err(NutErrorCode(f"ALREADY-SET-{verb}"))
        return replace(session, **{attr: args[0]}), ("OK",)
    if verb not in ("LOGIN", "PRIMARY", "MASTER", "FSD", "SET", "INSTCMD"):
        return session, _err(NutErrorCode.UNKNOWN_COMMAND)
    if session.username is None:
        return session, _err(NutErrorCode.USERNAME_REQUIRED)
    if session.password is None:
        return session, _err(NutErrorCode.PASSWORD_REQUIRED)
    if verb == "LOGIN":
        if len(args) != 1:
            return session, _err(NutErrorCode.INVALID_ARGUMENT)
        if session.login_ups is not None:
            return session, _err(NutErrorCode.ALREADY_LOGGED_IN)
        if args[0] not in upses:
            return session, _err(NutErrorCode.UNKNOWN_UPS)
        if cfg.monitors.get(session.username) != session.password:
            return session, _err(NutErrorCode.ACCESS_DENIED)
        return replace(session, login_ups=args[0]), ("OK",)
    if verb in ("INSTCMD", "SET"):
        # INSTCMD ups cmd [value] / SET VAR ups var value
        is_set = verb == "SET"
        if len(args) < (4 if is_set else 2) or is_set and args[0].upper() != "VAR":
            return session, _err(NutErrorCode.INVALID_ARGUMENT)
        name, item = args[1:3] if is_set else args[:2]
        ups = upses.get(name)
        if problem := _available(ups):
            return session, problem
        if verb == "INSTCMD":
            supported = item in ups.commands
            return session, _err(NutErrorCode.ACCESS_DENIED if supported
                                 else NutErrorCode.CMD_NOT_SUPPORTED)
        return session, _err(NutErrorCode.READONLY if item in ups.variables
                             else NutErrorCode.VAR_NOT_SUPPORTED)
    # PRIMARY, MASTER, FSD: only our own policy may force a shutdown.
    if len(args) != 1:
        return session, _err(NutErrorCode.INVALID_ARGUMENT)
    if args[0] not in upses:
        return session, _err(NutErrorCode.UNKNOWN_UPS)
    return session, _err(NutErrorCode.ACCESS_DENIED)
