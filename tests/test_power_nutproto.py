"""NUT network protocol: upsd's word splitting, client parsing, read-only server."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from power.nutproto import (
    LineSplitter, ListCollector, NutErrorCode, NutProtocolError, NutRemoteError, ServerConfig,
    Session, UpsView, expect_var, get_var, instcmd, join_words, list_ups, list_var, login,
    logout, parse_reply, password, quote, respond, split_words, username, variables,
)

ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


# --- word splitting as upsd does it ------------------------------------------

@pytest.mark.parametrize("line, words", [
    ("GET VAR ups battery.charge", ("GET", "VAR", "ups", "battery.charge")),
    ("  LIST\tUPS  \r", ("LIST", "UPS")),
    ('VAR ups ups.status "OL CHRG"', ("VAR", "ups", "ups.status", "OL CHRG")),
    (r'VAR u d "say \"hi\" \\ back"', ("VAR", "u", "d", r'say "hi" \ back')),
    ('SET VAR u x ""', ("SET", "VAR", "u", "x", "")),
    (r"embedded\ space", ("embedded space",)),
    ("LIST UPS # the rest is a comment", ("LIST", "UPS")),
    ("LIST UPS#comment", ("LIST", "UPS")),
    ('"a # inside quotes" b', ("a # inside quotes", "b")),
    ("key=value", ("key", "=", "value")),
    ('"a=b"', ("a=b",)),
    ('"ab"cd', ("ab", "cd")),
    ('ab"cd', ('ab"cd',)),
    ('x "tab\there"', ("x", "tabhere")),  # control characters are dropped (CVE-2012-2944)
    ("Зал OK", ("", "OK")),  # non-ASCII is dropped but still makes a word
    ("", ()),
    ("# only a comment", ()),
])
def test_line_is_split_into_words_exactly_as_upsd_does(line, words):
    assert split_words(line) == words


def test_upsd_keeps_at_most_32_words_and_512_characters_per_word():
    assert len(split_words(" ".join(["w"] * 40))) == 32
    assert split_words("x" * 600) == ("x" * 512,)


@pytest.mark.parametrize("line", ['GET VAR "open', "trailing\\", '"esc at end\\'])
def test_a_line_that_would_run_on_into_the_next_is_refused(line):
    with pytest.raises(NutProtocolError):
        split_words(line)


def test_newline_inside_quotes_continues_the_line_like_upsd():
    splitter = LineSplitter()
    assert splitter.feed(b'GET VAR "ups\n') == [] and splitter.pending
    assert splitter.feed(b'name" x\nLIST UPS\n') == [("GET", "VAR", "upsname", "x"), ("LIST", "UPS")]
    assert not splitter.pending


@settings(max_examples=300, deadline=None)
@given(ascii_text)
def test_quote_then_split_gives_back_the_value(value):
    assert split_words(quote(value)) == (value,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
                max_size=32))
def test_join_words_then_split_gives_back_the_words(words):
    assert split_words(join_words(words)) == tuple(words)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 7))
def test_feeding_in_any_chunks_gives_the_same_lines_as_all_at_once(data, chunk):
    whole = LineSplitter().feed(data)
    splitter = LineSplitter()
    pieces = []
    for i in range(0, len(data), chunk):
        pieces += splitter.feed(data[i:i + chunk])
    assert pieces == whole
    assert all(0x20 <= ord(c) <= 0x7F for line in whole for w in line for c in w)


def test_quote_escapes_backslash_quote_and_hash_like_pconf_encode():
    assert quote('a"b\\c#d') == '"a\\"b\\\\c\\#d"'
    with pytest.raises(ValueError):
        quote("line\nbreak")


def test_requests_encode_to_one_line_quoting_only_where_needed():
    assert list_var("myups").encode() == b"LIST VAR myups\n"
    assert get_var("u", "ups.status").encode() == b"GET VAR u ups.status\n"
    assert username("a b").encode() == b'USERNAME "a b"\n'
    assert password("").encode() == b'PASSWORD ""\n'
    assert instcmd("u", "load.off", "5").encode() == b"INSTCMD u load.off 5\n"
    assert list_ups().encode() == b"LIST UPS\n" and logout().encode() == b"LOGOUT\n"


# --- client: parsing replies ----------------------------------------------------

def test_var_reply_gives_the_unescaped_value():
    assert expect_var(r'VAR ups device.model "Smart \"X\""', "ups", "device.model") == 'Smart "X"'


@pytest.mark.parametrize("code", ["DATA-STALE", "UNKNOWN-UPS", "ACCESS-DENIED", "VAR-NOT-SUPPORTED",
                                  "DRIVER-NOT-CONNECTED"])
def test_err_reply_raises_with_a_code_comparable_to_the_enum(code):
    with pytest.raises(NutRemoteError) as err:
        expect_var(f"ERR {code}", "ups", "ups.status")
    assert err.value.code == NutErrorCode(code)


def test_unknown_err_code_is_kept_verbatim():
    with pytest.raises(NutRemoteError) as err:
        expect_var("ERR SOMETHING-NEW extra words", "u", "v")
    assert (err.value.code, err.value.detail) == ("SOMETHING-NEW", "extra words")


@pytest.mark.parametrize("line", ["VAR ups ups.status", "VAR ups a b c", "ERR", "BEGIN", "END UPS",
                                  "", 'VAR ups x "open'])
def test_malformed_reply_lines_are_refused(line):
    with pytest.raises(NutProtocolError):
        parse_reply(line)


def test_answer_for_another_variable_is_refused():
    with pytest.raises(NutProtocolError):
        expect_var('VAR ups battery.charge "100"', "ups", "ups.status")


def test_free_text_replies_are_text():
    assert parse_reply("Network UPS Tools upsd 2.8.1 - https://www.networkupstools.org/").kind == "TEXT"
    assert parse_reply('Some "odd text').kind == "TEXT"
    assert parse_reply("OK Goodbye").args == ("Goodbye",)


def test_list_collector_gathers_items_until_end():
    c = ListCollector(list_var("ups"))
    lines = ["BEGIN LIST VAR ups", 'VAR ups battery.charge "100"', 'VAR ups ups.status "OL"',
             "END LIST VAR ups"]
    assert [c.feed(line) for line in lines] == [False, False, False, True]
    assert variables(c.items) == {"battery.charge": "100", "ups.status": "OL"}


def test_list_collector_raises_on_err_instead_of_begin():
    with pytest.raises(NutRemoteError) as err:
        ListCollector(list_var("ups")).feed("ERR DATA-STALE")
    assert err.value.code == NutErrorCode.DATA_STALE


@pytest.mark.parametrize("lines", [
    ["BEGIN LIST VAR other"],
    ["BEGIN LIST VAR ups", "UPS ups \"x\""],
    ["BEGIN LIST VAR ups", "END LIST VAR other"],
])
def test_list_collector_refuses_lines_of_another_list(lines):
    c = ListCollector(list_var("ups"))
    with pytest.raises(NutProtocolError):
        for line in lines:
            c.feed(line)


def test_list_range_accepts_upsds_end_list_enum_quirk():
    from power.nutproto import NutRequest
    c = ListCollector(NutRequest(("LIST", "RANGE", "ups", "input.transfer.low")))
    c.feed("BEGIN LIST RANGE ups input.transfer.low")
    c.feed('RANGE ups input.transfer.low "160" "180"')
    assert c.feed("END LIST ENUM ups input.transfer.low")
    assert c.items[0].args[2:] == ("160", "180")


# --- read-only server -------------------------------------------------------

UPSES = {"hall": UpsView("hall", "Зал засідань", {"ups.status": "OL", "battery.charge": "100",
                                                  "device.model": 'A "B" #1'},
                         commands=("beeper.toggle",), clients=("10.0.0.5",), numlogins=1)}
CFG = ServerConfig(monitors={"monuser": "secret"})


def ask(line, session=Session(), upses=UPSES):
    return respond(split_words(line), session, upses, CFG)


@pytest.mark.parametrize("line, reply", [
    ("LIST UPS", ("BEGIN LIST UPS", 'UPS hall "Zal zasidan"', "END LIST UPS")),
    ("GET VAR hall ups.status", ('VAR hall ups.status "OL"',)),
    ("get var hall battery.charge", ('VAR hall battery.charge "100"',)),
    ("GET VAR hall device.model", (r'VAR hall device.model "A \"B\" \#1"',)),
    ("GET VAR hall nope", ("ERR VAR-NOT-SUPPORTED",)),
    ("GET VAR other ups.status", ("ERR UNKNOWN-UPS",)),
    ("GET VAR", ("ERR INVALID-ARGUMENT",)),
    ("GET TYPE hall battery.charge", ("TYPE hall battery.charge NUMBER",)),
    ("GET TYPE hall ups.status", ("TYPE hall ups.status STRING:2",)),
    ("GET NUMLOGINS hall", ("NUMLOGINS hall 1",)),
    ("GET DESC hall whatever", ('DESC hall whatever "Description unavailable"',)),
    ("LIST CMD hall", ("BEGIN LIST CMD hall", "CMD hall beeper.toggle", "END LIST CMD hall")),
    ("LIST RW hall", ("BEGIN LIST RW hall", "END LIST RW hall")),
    ("LIST CLIENT hall", ("BEGIN LIST CLIENT hall", "CLIENT hall 10.0.0.5", "END LIST CLIENT hall")),
    ("LIST ENUM hall ups.status", ("BEGIN LIST ENUM hall ups.status", "END LIST ENUM hall ups.status")),
    ("LIST VAR other", ("ERR UNKNOWN-UPS",)),
    ("LIST", ("ERR INVALID-ARGUMENT",)),
    ("NETVER", ("1.3",)),
    ("HELP", ("Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS",)),
    ("HELP me", ("ERR INVALID-ARGUMENT",)),
    ("STARTTLS", ("ERR FEATURE-NOT-CONFIGURED",)),
    ("", ("ERR UNKNOWN-COMMAND",)),
    ("FROB hall", ("ERR UNKNOWN-COMMAND",)),
    ("INSTCMD hall beeper.toggle", ("ERR USERNAME-REQUIRED",)),
    ("LOGIN hall", ("ERR USERNAME-REQUIRED",)),
])
def test_server_answers_like_upsd(line, reply):
    assert ask(line)[1] == reply


def test_list_var_is_sorted_and_framed():
    assert ask("LIST VAR hall")[1] == (
        "BEGIN LIST VAR hall", 'VAR hall battery.charge "100"',
        r'VAR hall device.model "A \"B\" \#1"', 'VAR hall ups.status "OL"', "END LIST VAR hall")


def test_stale_data_is_refused_with_data_stale_but_the_ups_stays_listed():
    upses = {"hall": UpsView("hall", variables={"ups.status": "OB"}, stale=True)}
    assert ask("GET VAR hall ups.status", upses=upses)[1] == ("ERR DATA-STALE",)
    assert ask("LIST VAR hall", upses=upses)[1] == ("ERR DATA-STALE",)
    assert ask("LIST UPS", upses=upses)[1][1] == 'UPS hall "Description unavailable"'


def test_driver_not_running_is_driver_not_connected():
    upses = {"hall": UpsView("hall", variables={"ups.status": "OB"}, connected=False)}
    assert ask("GET VAR hall ups.status", upses=upses)[1] == ("ERR DRIVER-NOT-CONNECTED",)


def test_forced_shutdown_shows_fsd_first_in_status_once():
    upses = {"hall": UpsView("hall", variables={"ups.status": "OB LB"}, fsd=True)}
    assert ask("GET VAR hall ups.status", upses=upses)[1] == ('VAR hall ups.status "FSD OB LB"',)
    upses = {"hall": UpsView("hall", variables={"ups.status": "OB FSD"}, fsd=True)}
    assert ask("GET VAR hall ups.status", upses=upses)[1] == ('VAR hall ups.status "OB FSD"',)


def test_upsmon_secondary_logs_in_with_configured_credentials():
    s = Session()
    for line, expected in [("USERNAME monuser", ("OK",)), ("PASSWORD secret", ("OK",)),
                           ("LOGIN hall", ("OK",)), ("LOGIN hall", ("ERR ALREADY-LOGGED-IN",)),
                           ("LOGOUT", ("OK Goodbye",))]:
        s, reply = ask(line, s)
        assert reply == expected, line
    assert s.login_ups == "hall" and s.closed


def test_wrong_password_is_access_denied_at_login_not_at_password():
    s, _ = ask("USERNAME monuser")
    s, reply = ask("PASSWORD wrong", s)
    assert reply == ("OK",)
    s, reply = ask("LOGIN hall", s)
    assert reply == ("ERR ACCESS-DENIED",) and s.login_ups is None


def test_username_and_password_cannot_be_set_twice():
    s, _ = ask("USERNAME a")
    assert ask("USERNAME b", s)[1] == ("ERR ALREADY-SET-USERNAME",)
    s, _ = ask("PASSWORD a", s)
    assert ask("PASSWORD b", s)[1] == ("ERR ALREADY-SET-PASSWORD",)


@pytest.mark.parametrize("line, reply", [
    ("INSTCMD hall beeper.toggle", "ERR ACCESS-DENIED"),
    ("INSTCMD hall load.off", "ERR CMD-NOT-SUPPORTED"),
    ("INSTCMD other load.off", "ERR UNKNOWN-UPS"),
    ("SET VAR hall battery.charge 5", "ERR READONLY"),
    ("SET VAR hall nope 5", "ERR VAR-NOT-SUPPORTED"),
    ("SET hall", "ERR INVALID-ARGUMENT"),
    ("FSD hall", "ERR ACCESS-DENIED"),
    ("PRIMARY hall", "ERR ACCESS-DENIED"),
    ("MASTER other", "ERR UNKNOWN-UPS"),
])
def test_server_is_read_only_even_for_a_logged_in_monitor(line, reply):
    s, _ = ask("USERNAME monuser")
    s, _ = ask("PASSWORD secret", s)
    assert ask(line, s)[1] == (reply,)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,2}", fullmatch=True), ascii_text,
                       max_size=12))
def test_what_the_server_lists_a_client_reads_back_unchanged(values):
    upses = {"u": UpsView("u", variables=values)}
    collector = ListCollector(list_var("u"))
    lines = ask("LIST VAR u", upses=upses)[1]
    assert [collector.feed(line) for line in lines][-1] is True
    assert variables(collector.items) == values


def test_login_request_builder_matches_what_the_server_expects():
    words = split_words(login("hall").encode().decode().rstrip("\n"))
    assert respond(words, Session("monuser", "secret"), UPSES, CFG)[1] == ("OK",)


@pytest.mark.parametrize("name, latin", [("Зал засідань", "Zal zasidan"), ("Згорани", "Zghorany"),
                                         ("Яготин", "Yahotyn"), ("Знам’янка", "Znamianka"),
                                         ("ЦНАП №2", "TsNAP ?2")])
def test_ukrainian_descriptions_reach_nut_clients_transliterated(name, latin):
    from power.nutproto import ascii_only
    assert ascii_only(name) == latin


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_reply_line_is_parsed_or_refused_with_nutprotocolerror_never_a_crash(line):
    try:
        parse_reply(line)
    except NutProtocolError:
        pass
