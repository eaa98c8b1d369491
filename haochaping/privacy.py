"""Personal data protection (个人信息保护法) applied before anything is stored or shown.

Rater ids become keyed pseudonyms; ID-card numbers, phone numbers, e-mail addresses
and bank-card numbers in free text are masked. Pure functions, used by every sink
and report.

Citizens type numbers the way their input method gives them: full-width digits
(１３９…), full-width brackets around an area code (（0551）), ideographic spaces,
numbers written in groups (340104 19900307 123X, 139-1234-5678). The patterns
accept the full-width forms of digits, letters, brackets, plus, hyphen and space
directly, so only the personal data is replaced and the rest of the text, full-width
punctuation included, is kept exactly as written. Dates, amounts, durations and case
numbers are evidence for tracing and must survive: a number is only masked when its
whole digit run has the shape of personal data (length, region/birth-date structure,
mobile prefix, area code, Luhn check digit).
"""

from __future__ import annotations

import hashlib
import hmac
import re


# Character classes in both widths (Chinese input methods type the full-width forms).
def _both(ascii_chars: str) -> str:
    """ASCII characters or ranges ("0-9", "Xx") and their full-width forms, for a character class."""
    wide = "".join(chr(ord(char) + 0xFEE0) if char != "-" else "-" for char in ascii_chars)
    return ascii_chars + wide


def _lit(chars: str) -> str:
    return f"[{_both(chars)}]"


_D = _lit("0-9")
_D1 = _lit("1-9")
_ALNUM = _both("0-9A-Za-z")
_HYPHEN = "\\-\uff0d\u2010-\u2014\u2212"
_SEP = f"[ {_HYPHEN}\u3000\u00a0]?"  # at most one space or hyphen between two digits
_OPEN = "[(\uff08]"
_CLOSE = "[)\uff09]"
# A match must be a whole number: not glued to a digit or letter before or after,
# and not the tail or head of a hyphenated code (2024-0551-62345678, 办件 …-0001).
_START = f"(?<![{_ALNUM}])(?<![{_ALNUM}][{_HYPHEN}])"
_END = f"(?![{_ALNUM}])(?![{_HYPHEN}]{_D})"


def _digits(*parts: str) -> str:
    """Digit patterns joined so that one space or hyphen may stand between any two digits."""
    return _SEP.join(parts)


def _n(count: int) -> str:
    return _digits(*[_D] * count)


_YEAR = _digits(f"(?:{_lit('1')}{_SEP}{_lit('89')}|{_lit('2')}{_SEP}{_lit('0')})", _n(2))  # 18xx 19xx 20xx
_MONTH = f"(?:{_lit('0')}{_SEP}{_D1}|{_lit('1')}{_SEP}{_lit('0-2')})"
_DAY = f"(?:{_lit('0')}{_SEP}{_D1}|{_lit('12')}{_SEP}{_D}|{_lit('3')}{_SEP}{_lit('01')})"
_ID18 = _digits(_D1, _n(5), _YEAR, _MONTH, _DAY, _n(3), _lit("0-9Xx"))
_ID15 = _digits(_D1, _n(7), _MONTH, _DAY, _n(3))
_MOBILE = f"(?:{_OPEN}?(?:{_lit('+')}|{_lit('0')}{{2}})?{_lit('8')}{_lit('6')}{_CLOSE}?{_SEP})?" + _digits(
    _lit("1"), _lit("3-9"), _n(9)
)
_AREA = _digits(_lit("0"), _D1, _D) + f"(?:{_SEP}{_D})?"  # 010, 0551
_LANDLINE = f"(?:{_OPEN}{_AREA}{_CLOSE}|{_AREA}){_SEP}" + _digits(_lit("2-9"), _n(6)) + f"(?:{_SEP}{_D})?"
# Card numbers: 16-19 digits written in groups of four (6222 0212 3456 7890) with a valid
# Luhn check digit, or any 16-19 digit run right after a word naming a card or an account.
# An unbroken run with no such word is left alone: 19-digit case numbers look the same.
_GROUP_SEP = f"[ {_HYPHEN}\u3000\u00a0]"
_CARD_GROUPED = f"{_D1}{_D}{{3}}(?:{_GROUP_SEP}{_D}{{4}}){{3}}(?:{_GROUP_SEP}{_D}{{1,3}})?"
_CARD_WORD = "(?:银行卡|借记卡|信用卡|储蓄卡|卡号|账号|帐号|账户|帐户)"
_CARD_AFTER_WORD = f"(?P<card_word>{_CARD_WORD}[^{_both('0-9')}]{{0,6}}?)(?P<card_number>{_D}(?:{_SEP}{_D}){{15,18}})"
_EMAIL_CHARS = _both("A-Za-z0-9._%+") + "\\-"
_EMAIL = f"(?<![{_EMAIL_CHARS}])[{_EMAIL_CHARS}]+[@\uff20][{_both('A-Za-z0-9.')}\\-]+{_lit('.')}{_lit('A-Za-z')}{{2,}}"

# Every number starts with a digit, an opening bracket or a plus: checked first, so the
# alternatives are only tried there.
_FIRST = f"(?=[{_both('0-9(+')}])"
_NUMBERS = re.compile(
    f"{_FIRST}{_START}(?:(?P<id>{_ID18}|{_ID15})"
    f"|(?P<mobile>{_MOBILE})"
    f"|(?P<landline>{_LANDLINE})"
    f"|(?P<card>{_CARD_GROUPED})){_END}"
)
_CARD_NUMBER_AFTER_WORD = re.compile(f"{_CARD_AFTER_WORD}{_END}")
_EMAIL_ADDRESS = re.compile(_EMAIL)
# Most comments hold no personal data: one quick scan decides whether the full patterns
# run at all. Every masked number has at least 10 digits (the shortest is a landline,
# 010 1234567), with at most a bracket and a space or hyphen between two of them.
_CANDIDATE = re.compile(f"{_D}(?:[ {_HYPHEN}\u3000\u00a0()\uff08\uff09]{{0,2}}{_D}){{9}}")
_HAS_AT = re.compile("[@\uff20]")

_PLACEHOLDERS = {
    "id": "[身份证号]",
    "mobile": "[手机号]",
    "landline": "[电话]",
    "card": "[银行卡号]",
}
_TO_ASCII_DIGIT = {0xFF10 + i: 0x30 + i for i in range(10)}


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _only_digits(text: str) -> str:
    return "".join(char for char in text.translate(_TO_ASCII_DIGIT) if "0" <= char <= "9")


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup or "id"
    if kind == "card" and not _luhn_valid(_only_digits(match[0])):
        return match[0]  # grouped like a card but not one: keep it, it may be a case number
    return _PLACEHOLDERS[kind]


def mask_personal_data(text: str) -> str:
    """Replace ID, phone, bank-card numbers and e-mail addresses with placeholders; keep the rest as written."""
    if _HAS_AT.search(text) is not None:
        text = _EMAIL_ADDRESS.sub("[邮箱]", text)  # first: 12345678@qq.com is an address, not a number
    if _CANDIDATE.search(text) is None:
        return text
    text = _CARD_NUMBER_AFTER_WORD.sub(r"\g<card_word>[银行卡号]", text)
    return _NUMBERS.sub(_replace, text)


def pseudonymise(rater_id: str, key: bytes) -> str:
    """A stable keyed pseudonym: the same rater maps to the same value, which cannot be reversed without the key."""
    return hmac.new(key, rater_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
