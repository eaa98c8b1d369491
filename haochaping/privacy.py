"""Personal data protection (个人信息保护法) applied before anything is stored or shown.

Rater ids become keyed pseudonyms; ID-card numbers, phone numbers and e-mail
addresses in free text are masked. Pure functions, used by every sink and report.
"""

from __future__ import annotations

import hashlib
import hmac
import re

# 18-digit resident ID (last char may be X), 15-digit legacy ID, mainland mobiles,
# landlines with area code, e-mail; digits must not be part of a longer number.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx](?![0-9A-Za-z])"),
        "[身份证号]",
    ),
    (re.compile(r"(?<![0-9])[1-9][0-9]{7}[01][0-9][0-3][0-9]{4}(?![0-9])"), "[身份证号]"),
    (re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])"), "[手机号]"),
    (re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}-?[0-9]{7,8}(?![0-9])"), "[电话]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[邮箱]"),
)


def mask_personal_data(text: str) -> str:
    """Replace ID numbers, phone numbers and e-mail addresses with placeholders."""
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def pseudonymise(rater_id: str, key: bytes) -> str:
    """A stable keyed pseudonym: the same rater maps to the same value, which cannot be reversed without the key."""
    return hmac.new(key, rater_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
