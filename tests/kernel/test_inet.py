"""Address parsing as iproute2 does it: abbreviated prefixes, netmasks, legacy number forms."""

from neutrino.kernel.inet import fmt, parse_addr, parse_prefix, parse_uint


def test_abbreviated_prefix_fills_missing_octets_with_zero():
    p = parse_prefix("192.203.80/24")
    assert (fmt(p.addr), p.plen) == ("192.203.80.0", 24)


def test_single_number_is_first_octet():
    p = parse_prefix("10/8")
    assert (fmt(p.addr), p.plen) == ("10.0.0.0", 8)


def test_prefix_length_may_be_a_dotted_netmask():
    assert parse_prefix("10.1.0.0/255.255.0.0").plen == 16
    assert parse_prefix("10.1.0.0/255.0.255.0") is None


def test_octal_and_hex_parts_follow_strtoul():
    assert fmt(parse_addr("010.0x10.0.1").addr) == "8.16.0.1"


def test_default_any_and_all_are_the_zero_prefix():
    assert parse_prefix("default").plen == 0
    assert parse_prefix("all").bytelen == 0
    assert parse_prefix("default/8") is None


def test_bad_addresses_are_refused():
    for text in ("256.0.0.1", "1.2.3.4.5", "1..2", "abc", "1.2.3.4/33", ""):
        assert parse_prefix(text) is None, text


def test_numbers_accept_hex_and_refuse_garbage():
    assert parse_uint("0x10") == 16
    assert parse_uint("12abc") is None
    assert parse_uint("4294967296") is None
