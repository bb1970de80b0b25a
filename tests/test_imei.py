import pytest

from register.errors import InvalidImei
from register.imei import format_imei, looks_like_imei, luhn_check_digit, parse_imei

VALID = ["490154203237518", "354178036859789", "352099001761481", "350077523237513"]


@pytest.mark.parametrize("imei", VALID)
def test_published_valid_imeis_pass(imei):
    assert parse_imei(imei).imei == imei
    assert not parse_imei(imei).completed


@pytest.mark.parametrize(("body", "digit"), [
    ("26053179311383", 7),  # the worked example in 3GPP TS 23.003 Annex B
    ("35417803685978", 9),
    ("35686800004141", 8),
])
def test_check_digit_of_fourteen_digit_body(body, digit):
    assert luhn_check_digit(body) == digit
    parsed = parse_imei(body)
    assert parsed.imei == body + str(digit)
    assert parsed.completed


@pytest.mark.parametrize("typed", [
    "49 015420 323751 8", "49-015420-323751-8", "49/015420/323751/8", " 490154203237518\n",
    "IMEI: 490154203237518",
])
def test_separators_are_forgiven(typed):
    assert parse_imei(typed).imei == "490154203237518"


def test_wrong_check_digit_names_the_right_one():
    with pytest.raises(InvalidImei, match="should be 9, not 2"):
        parse_imei("354178036859782")


@pytest.mark.parametrize("near_miss", [
    "490154203237517",  # last digit off by one
    "490154203237581",  # two digits swapped
    "590154203237518",  # first digit changed
])
def test_near_misses_are_refused(near_miss):
    with pytest.raises(InvalidImei, match="should be"):
        parse_imei(near_miss)


@pytest.mark.parametrize("imeisv", ["3520990017614823", "3568680000414120"])
def test_imeisv_is_refused_as_not_an_imei(imeisv):
    with pytest.raises(InvalidImei, match="16-digit IMEISV"):
        parse_imei(imeisv)


@pytest.mark.parametrize(("typed", "message"), [
    ("", "dial \\*#06#"),
    ("4901542032375", "15 digits; this has 13"),
    ("49015420323751812", "15 digits; this has 17"),
    ("49015420323751O", "only digits"),
])
def test_other_mistakes_say_what_is_wrong(typed, message):
    with pytest.raises(InvalidImei, match=message):
        parse_imei(typed)


def test_eid_is_not_an_imei():
    with pytest.raises(InvalidImei, match="15 digits; this has 32"):
        parse_imei("89049032000001000000012345678901")


def test_formatting_and_recognition():
    assert format_imei("490154203237518") == "49 015420 323751 8"
    assert looks_like_imei("49 015420 323751 8")
    assert not looks_like_imei("0003887558")
    assert not looks_like_imei("PH7K3M9Q")
