"""Personal data is masked in free text and rater ids are keyed pseudonyms."""

from __future__ import annotations

import pytest

from haochaping.privacy import mask_personal_data, pseudonymise


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的身份证号是34010419900307123X，办了一个月", "我的身份证号是[身份证号]，办了一个月"),
        ("身份证340104199003071234", "身份证[身份证号]"),
        ("电话 138 1234 5678 没人接", "电话 [手机号] 没人接"),
        ("手机+86-13912345678", "手机[手机号]"),
        ("打了0551-62345678没人接", "打了[电话]没人接"),
        ("发到 zhang.san@example.com 了", "发到 [邮箱] 了"),
        ("等了15个工作日，跑了3趟", "等了15个工作日，跑了3趟"),
        ("办件编号20261120000123", "办件编号20261120000123"),
    ],
)
def test_mask_personal_data(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_pseudonym_is_stable_keyed_and_opaque() -> None:
    first = pseudonymise("citizen-42", b"k1")
    assert first == pseudonymise("citizen-42", b"k1")
    assert first != pseudonymise("citizen-42", b"k2")
    assert first != pseudonymise("citizen-43", b"k1")
    assert "citizen" not in first and len(first) == 32
