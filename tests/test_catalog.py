"""Tests of the matter catalog: the shipped data file and the loader's validation messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from haochaping.catalog import Catalog, CatalogError, Process, StepSpec, default_catalog, load_catalog
from haochaping.codes import Mode, Role, StepKind

EXPECTED_MATTERS = {
    "HCP-GA-HKQY": ("户口迁移", {Mode.JOINT}),
    "HCP-GA-XSEDJ": ("新生儿户口登记", {Mode.PROXY}),
    "HCP-GA-SFZBL": ("居民身份证异地补领", {Mode.PROXY}),
    "HCP-YB-JYBA": ("异地就医备案", {Mode.ONLINE}),
    "HCP-RS-YLZY": ("养老保险关系转移接续", {Mode.JOINT}),
    "HCP-YB-GXZY": ("医保关系转移接续", {Mode.JOINT}),
    "HCP-GJJ-ZYTQ": ("住房公积金异地转移/提取", {Mode.ONLINE, Mode.PROXY}),
    "HCP-SJ-YXBG": ("有限公司跨区域变更登记", {Mode.ONLINE}),
    "HCP-SJ-GTKY": ("个体工商户开业登记", {Mode.ONLINE}),
    "HCP-RS-CBZM": ("社保参保证明", {Mode.ONLINE}),
    "HCP-MZ-HYDJ": ("婚姻登记", {Mode.JOINT}),
    "HCP-RS-JYSY": ("就业失业登记", {Mode.ONLINE}),
    "HCP-WJ-SPBZ": ("食品安全企业标准备案", {Mode.ONLINE}),
    "HCP-JG-JZHZ": ("机动车驾驶证换证", {Mode.LOCAL}),
}

# A minimal valid catalog; each error test breaks exactly one thing in it.
GENERIC = "\n".join(
    f'{mode.value} = [{{ step = "ACCEPT", role = "RECEIVING", limit_days = 1 }}]' for mode in Mode
)
VALID = f"""
[[matters]]
code = "HCP-X"
name = "测试事项"
department = "公安部门"
modes = ["proxy"]

[matters.processes]
proxy = [
  {{ step = "ACCEPT", role = "RECEIVING", limit_days = 1 }},
  {{ step = "REVIEW", role = "HANDLING", limit_days = 5 }},
  {{ step = "TRANSFER", role = "RECEIVING", limit_days = 3 }},
]

[generic]
{GENERIC}
"""


def load_text(tmp_path: Path, text: str) -> Catalog:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def test_all_fourteen_matters_with_names_and_modes() -> None:
    catalog = default_catalog()
    assert {code: (m.name, set(m.processes)) for code, m in catalog.matters.items()} == EXPECTED_MATTERS
    for matter in catalog.matters.values():
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", matter.code)
        assert matter.department


def test_default_catalog_is_cached() -> None:
    assert default_catalog() is default_catalog()


def test_limits_are_positive_and_steps_unique() -> None:
    catalog = default_catalog()
    processes = [p for m in catalog.matters.values() for p in m.processes.values()]
    processes += list(catalog.generic.values())
    for process in processes:
        assert all(spec.limit_days >= 1 for spec in process.steps)
        assert len({spec.step for spec in process.steps}) == len(process.steps)


def test_proxy_process_transfers_to_a_handling_review() -> None:
    process, known = default_catalog().process("HCP-GA-XSEDJ", Mode.PROXY)
    assert known is True
    assert process.mode is Mode.PROXY
    assert process.spec_for(StepKind.TRANSFER) == StepSpec(StepKind.TRANSFER, Role.RECEIVING, 3)
    assert process.spec_for(StepKind.REVIEW) == StepSpec(StepKind.REVIEW, Role.HANDLING, 5)
    assert process.spec_for(StepKind.ACCEPT) == StepSpec(StepKind.ACCEPT, Role.RECEIVING, 1)
    assert process.spec_for(StepKind.DELIVER) == StepSpec(StepKind.DELIVER, Role.LOGISTICS, 5)
    assert process.spec_for(StepKind.PAYMENT) is None
    steps = [spec.step for spec in process.steps]
    assert steps.index(StepKind.TRANSFER) < steps.index(StepKind.REVIEW) < steps.index(StepKind.DECIDE)


def test_joint_household_move_has_both_offices() -> None:
    process, known = default_catalog().process("HCP-GA-HKQY", Mode.JOINT)
    assert known
    roles = {spec.step: spec.role for spec in process.steps}
    assert roles[StepKind.ACCEPT] is Role.RECEIVING
    assert roles[StepKind.REVIEW] is Role.HANDLING
    assert roles[StepKind.DECIDE] is Role.HANDLING
    assert roles[StepKind.DELIVER] is Role.RECEIVING


def test_marriage_registration_asks_a_data_provider() -> None:
    process, _ = default_catalog().process("HCP-MZ-HYDJ", Mode.JOINT)
    assert process.spec_for(StepKind.DATA_SHARE) == StepSpec(StepKind.DATA_SHARE, Role.DATA_PROVIDER, 2)


def test_housing_fund_has_online_and_proxy() -> None:
    catalog = default_catalog()
    online, known_online = catalog.process("HCP-GJJ-ZYTQ", Mode.ONLINE)
    proxy, known_proxy = catalog.process("HCP-GJJ-ZYTQ", Mode.PROXY)
    assert known_online and known_proxy
    assert online.spec_for(StepKind.TRANSFER) is None
    assert proxy.spec_for(StepKind.TRANSFER) is not None


def test_unknown_matter_falls_back_to_generic() -> None:
    catalog = default_catalog()
    for mode in Mode:
        process, known = catalog.process("NOT-IN-CATALOG", mode)
        assert known is False
        assert process is catalog.generic[mode]
        assert process.mode is mode


def test_known_matter_with_unsupported_mode_falls_back() -> None:
    catalog = default_catalog()
    process, known = catalog.process("HCP-GA-HKQY", Mode.ONLINE)
    assert (process, known) == (catalog.generic[Mode.ONLINE], False)


def test_matter_name() -> None:
    catalog = default_catalog()
    assert catalog.matter_name("HCP-MZ-HYDJ") == "婚姻登记"
    assert catalog.matter_name("LOCAL-0001") == "LOCAL-0001"


def test_generic_has_every_mode() -> None:
    generic = default_catalog().generic
    assert set(generic) == set(Mode)
    assert isinstance(generic[Mode.PROXY], Process)
    assert generic[Mode.PROXY].spec_for(StepKind.REVIEW) == StepSpec(StepKind.REVIEW, Role.HANDLING, 5)


def test_valid_minimal_catalog_loads(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, VALID)
    process, known = catalog.process("HCP-X", Mode.PROXY)
    assert known
    assert [spec.step for spec in process.steps] == [StepKind.ACCEPT, StepKind.REVIEW, StepKind.TRANSFER]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'step = "REVIEW"',
            'step = "REVEIW"',
            "catalog.toml: matter HCP-X mode proxy step 2: unknown step kind 'REVEIW'",
        ),
        (
            'role = "HANDLING"',
            'role = "HANDLER"',
            "catalog.toml: matter HCP-X mode proxy step 2: unknown role 'HANDLER'",
        ),
        (
            'modes = ["proxy"]',
            'modes = ["proxi"]',
            "catalog.toml: matter HCP-X: unknown mode 'proxi'",
        ),
        (
            'role = "HANDLING", limit_days = 5',
            'role = "HANDLING", limit_days = 0',
            "catalog.toml: matter HCP-X mode proxy step 2: limit_days must be at least 1 working day (got 0)",
        ),
        (
            'role = "HANDLING", limit_days = 5',
            'role = "HANDLING", limit_days = -2',
            "catalog.toml: matter HCP-X mode proxy step 2: limit_days must be at least 1 working day (got -2)",
        ),
        (
            'role = "HANDLING", limit_days = 5',
            'role = "HANDLING", limit_days = 2.5',
            "catalog.toml: matter HCP-X mode proxy step 2: limit_days must be a whole number",
        ),
        (
            'step = "TRANSFER"',
            'step = "ACCEPT"',
            "catalog.toml: matter HCP-X mode proxy step 3: duplicate step ACCEPT",
        ),
        (
            'code = "HCP-X"',
            'code = "HCP X/1"',
            "catalog.toml: matter 'HCP X/1': field 'code' must be 1-64 characters",
        ),
        (
            'modes = ["proxy"]',
            'modes = ["proxy", "online"]',
            "catalog.toml: matter HCP-X: mode online is listed in 'modes' but has no process",
        ),
        (
            'modes = ["proxy"]',
            'modes = ["proxy", "proxy"]',
            "catalog.toml: matter HCP-X: mode proxy listed twice",
        ),
        (
            'department = "公安部门"',
            'deparment = "公安部门"',
            "catalog.toml: matter HCP-X: unknown field 'deparment'",
        ),
        (
            'name = "测试事项"',
            'name = ""',
            "catalog.toml: matter HCP-X: field 'name' is missing or empty",
        ),
        (
            'local = [{ step = "ACCEPT", role = "RECEIVING", limit_days = 1 }]',
            "",
            "catalog.toml: generic: missing generic process for mode local",
        ),
    ],
)
def test_validation_errors_name_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in VALID
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, VALID.replace(old, new, 1))
    assert str(caught.value).startswith(message)


def test_process_for_mode_not_listed(tmp_path: Path) -> None:
    text = VALID.replace(
        "[generic]", 'online = [{ step = "APPLY", role = "PLATFORM", limit_days = 1 }]\n\n[generic]'
    )
    with pytest.raises(CatalogError, match=r"matter HCP-X: processes.online is not listed in 'modes'"):
        load_text(tmp_path, text)


def test_duplicate_matter_code(tmp_path: Path) -> None:
    first = VALID.split("[generic]")[0]
    with pytest.raises(CatalogError, match=r"^catalog.toml: matter HCP-X: duplicate matter code$"):
        load_text(tmp_path, first + first + "[generic]\n" + GENERIC)


def test_missing_generic_table(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^catalog.toml: generic: missing \[generic\] table"):
        load_text(tmp_path, VALID.split("[generic]")[0])


def test_unknown_generic_mode(tmp_path: Path) -> None:
    text = VALID + 'remote = [{ step = "ACCEPT", role = "RECEIVING", limit_days = 1 }]\n'
    with pytest.raises(CatalogError, match=r"^catalog.toml: generic: unknown mode 'remote'$"):
        load_text(tmp_path, text)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[[matters]\ncode = 1", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"^mine.toml: not valid TOML"):
        load_catalog(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^absent.toml: cannot read"):
        load_catalog(tmp_path / "absent.toml")
