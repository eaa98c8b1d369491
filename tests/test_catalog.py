"""Tests of the matter catalog: the shipped data file and the loader's validation messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from haochaping.catalog import Catalog, CatalogError, Process, StepSpec, default_catalog, load_catalog
from haochaping.codes import PROVINCES, Mode, Role, StepKind

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


# -- province overrides ---------------------------------------------------------------------------

OVERRIDE = """
[[matters.overrides]]
province = "330000"
mode = "proxy"
steps = [
  { step = "REVIEW", limit_days = 3 },
]
"""
WITH_OVERRIDE = VALID.replace("[generic]", OVERRIDE + "\n[generic]")
NATIONAL_PROXY = (
    StepSpec(StepKind.ACCEPT, Role.RECEIVING, 1),
    StepSpec(StepKind.REVIEW, Role.HANDLING, 5),
    StepSpec(StepKind.TRANSFER, Role.RECEIVING, 3),
)


def with_overrides(*tables: str) -> str:
    return VALID.replace("[generic]", "".join(tables) + "\n[generic]")


def test_the_shipped_example_override_shortens_one_review() -> None:
    catalog = default_catalog()
    national, known = catalog.process("HCP-GA-HKQY", Mode.JOINT)
    zhejiang, known_there = catalog.process("HCP-GA-HKQY", Mode.JOINT, "330000")
    assert known and known_there
    assert zhejiang.province == "330000" and national.province is None
    assert zhejiang.spec_for(StepKind.REVIEW) == StepSpec(StepKind.REVIEW, Role.HANDLING, 3)
    assert national.spec_for(StepKind.REVIEW) == StepSpec(StepKind.REVIEW, Role.HANDLING, 5)
    changed = [spec for spec, base in zip(zhejiang.steps, national.steps, strict=True) if spec != base]
    assert changed == [StepSpec(StepKind.REVIEW, Role.HANDLING, 3)]
    assert catalog.process("HCP-GA-HKQY", Mode.JOINT, "310000")[0] is national
    assert set(catalog.overrides("HCP-GA-HKQY", Mode.JOINT)) == {"330000"}
    assert dict(catalog.overrides("HCP-MZ-HYDJ", Mode.JOINT)) == {}
    assert dict(catalog.overrides("NOT-IN-CATALOG", Mode.JOINT)) == {}


def test_every_shipped_override_changes_its_national_process() -> None:
    catalog = default_catalog()
    for matter in catalog.matters.values():
        for mode, by_province in matter.overrides.items():
            for province, process in by_province.items():
                assert process.province == province and process.mode is mode
                assert process.steps != matter.processes[mode].steps


def test_a_step_change_keeps_the_other_steps(tmp_path: Path) -> None:
    catalog = load_text(tmp_path, WITH_OVERRIDE)
    process, known = catalog.process("HCP-X", Mode.PROXY, "330000")
    assert known
    assert process.steps == (NATIONAL_PROXY[0], StepSpec(StepKind.REVIEW, Role.HANDLING, 3), NATIONAL_PROXY[2])
    assert catalog.process("HCP-X", Mode.PROXY, "340000")[0].steps == NATIONAL_PROXY
    assert catalog.process("HCP-X", Mode.PROXY)[0].steps == NATIONAL_PROXY
    # An unknown matter has no overrides: the generic process, whatever the province.
    assert catalog.process("LOCAL-1", Mode.PROXY, "330000") == (catalog.generic[Mode.PROXY], False)


def test_a_role_change_keeps_the_limit(tmp_path: Path) -> None:
    table = OVERRIDE.replace('{ step = "REVIEW", limit_days = 3 }', '{ step = "REVIEW", role = "RECEIVING" }')
    process, _ = load_text(tmp_path, with_overrides(table)).process("HCP-X", Mode.PROXY, "330000")
    assert process.spec_for(StepKind.REVIEW) == StepSpec(StepKind.REVIEW, Role.RECEIVING, 5)


def test_a_whole_process_can_drop_and_add_steps(tmp_path: Path) -> None:
    table = """
[[matters.overrides]]
province = "330000"
mode = "proxy"
process = [
  { step = "ACCEPT", role = "RECEIVING", limit_days = 1 },
  { step = "DATA_SHARE", role = "DATA_PROVIDER", limit_days = 1 },
  { step = "REVIEW", role = "HANDLING", limit_days = 4 },
]
"""
    process, _ = load_text(tmp_path, with_overrides(table)).process("HCP-X", Mode.PROXY, "330000")
    assert process.steps == (
        StepSpec(StepKind.ACCEPT, Role.RECEIVING, 1),
        StepSpec(StepKind.DATA_SHARE, Role.DATA_PROVIDER, 1),
        StepSpec(StepKind.REVIEW, Role.HANDLING, 4),
    )
    assert process.spec_for(StepKind.TRANSFER) is None


def test_all_34_province_codes_are_accepted(tmp_path: Path) -> None:
    assert len(PROVINCES) == 34
    assert all(re.fullmatch(r"[1-8][0-9]0000", code) for code in PROVINCES)
    tables = [OVERRIDE.replace('"330000"', f'"{code}"') for code in PROVINCES]
    catalog = load_text(tmp_path, with_overrides(*tables))
    assert set(catalog.overrides("HCP-X", Mode.PROXY)) == set(PROVINCES)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'province = "330000"',
            'province = "330100"',
            "catalog.toml: matter HCP-X override #1: field 'province' '330100' is a city or county code; "
            "overrides are per province: use '330000' (浙江)",
        ),
        (
            'province = "330000"',
            'province = "990000"',
            "catalog.toml: matter HCP-X override #1: unknown province '990000' in field 'province': "
            "give a province-level GB/T 2260 code, six digits ending in 0000",
        ),
        (
            'province = "330000"',
            'province = "浙江"',
            "catalog.toml: matter HCP-X override #1: unknown province '浙江' in field 'province'",
        ),
        (
            'province = "330000"',
            "province = 330000",
            "catalog.toml: matter HCP-X override #1: field 'province' must be a quoted string: province = \"330000\"",
        ),
        (
            'province = "330000"\n',
            "",
            "catalog.toml: matter HCP-X override #1: field 'province' is missing or not a string (got None)",
        ),
        (
            'mode = "proxy"\nsteps',
            'mode = "online"\nsteps',
            "catalog.toml: matter HCP-X override province 330000: mode online is not offered by the matter "
            "(its modes: proxy)",
        ),
        (
            'mode = "proxy"\nsteps',
            'mode = "remote"\nsteps',
            "catalog.toml: matter HCP-X override province 330000: unknown mode 'remote'",
        ),
        (
            'mode = "proxy"\nsteps',
            'mode = "proxy"\nreason = "承诺时限"\nsteps',
            "catalog.toml: matter HCP-X override #1: unknown field 'reason' (expected province, mode, steps or process)",
        ),
        (
            '{ step = "REVIEW", limit_days = 3 }',
            '{ step = "REVEIW", limit_days = 3 }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: unknown step kind 'REVEIW'",
        ),
        (
            '{ step = "REVIEW", limit_days = 3 }',
            '{ step = "DELIVER", limit_days = 3 }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: step DELIVER is not in the "
            "national proxy process; to add or drop steps give the whole 'process' instead of 'steps'",
        ),
        (
            "limit_days = 3 }",
            "limit_days = 0 }",
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: "
            "limit_days must be at least 1 working day (got 0)",
        ),
        (
            "limit_days = 3 }",
            "limit_days = -3 }",
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: "
            "limit_days must be at least 1 working day (got -3)",
        ),
        (
            "limit_days = 3 }",
            "limit_days = 2.5 }",
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: "
            "limit_days must be a whole number of working days (got 2.5)",
        ),
        (
            "limit_days = 3 }",
            'limit_days = "3" }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: "
            "limit_days must be a whole number of working days (got '3')",
        ),
        (
            "limit_days = 3 }",
            "limit_days = 5 }",
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: step REVIEW limit_days 5 "
            "is the national value already; list only what the province changes",
        ),
        (
            "limit_days = 3 }",
            'role = "HANDLING" }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: step REVIEW role HANDLING "
            "is the national value already; list only what the province changes",
        ),
        (
            "limit_days = 3 }",
            'role = "HANDLER" }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: unknown role 'HANDLER'",
        ),
        (
            '{ step = "REVIEW", limit_days = 3 }',
            '{ step = "REVIEW" }',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: "
            "step REVIEW changes nothing: give limit_days, role or both",
        ),
        (
            "limit_days = 3 }",
            "limit = 3 }",
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 1: unknown field 'limit'",
        ),
        (
            '{ step = "REVIEW", limit_days = 3 },',
            '{ step = "REVIEW", limit_days = 3 },\n  { step = "REVIEW", limit_days = 4 },',
            "catalog.toml: matter HCP-X override province 330000 mode proxy step 2: duplicate step REVIEW",
        ),
        (
            'steps = [\n  { step = "REVIEW", limit_days = 3 },\n]',
            "steps = []",
            "catalog.toml: matter HCP-X override province 330000 mode proxy: field 'steps' must be a non-empty array",
        ),
        (
            'steps = [\n  { step = "REVIEW", limit_days = 3 },\n]',
            "",
            "catalog.toml: matter HCP-X override province 330000 mode proxy: give either 'steps' "
            "(changes to some steps) or 'process' (the whole process), not both",
        ),
        (
            "]\n",
            ']\nprocess = [{ step = "REVIEW", role = "HANDLING", limit_days = 3 }]\n',
            "catalog.toml: matter HCP-X override province 330000 mode proxy: give either 'steps' "
            "(changes to some steps) or 'process' (the whole process), not both",
        ),
    ],
)
def test_override_errors_name_matter_province_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in OVERRIDE
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, with_overrides(OVERRIDE.replace(old, new, 1)))
    assert str(caught.value).startswith(message), str(caught.value)


def test_duplicate_override_for_a_province_and_mode(tmp_path: Path) -> None:
    second = OVERRIDE.replace("limit_days = 3", "limit_days = 4")
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, with_overrides(OVERRIDE, second))
    assert str(caught.value) == (
        "catalog.toml: matter HCP-X override province 330000 mode proxy: "
        "duplicate override (override #1 is for the same province and mode)"
    )
    # Another province, or the same province in another mode, is not a duplicate.
    load_text(tmp_path, with_overrides(OVERRIDE, second.replace('"330000"', '"320000"')))


def test_a_whole_process_equal_to_the_national_one_changes_nothing(tmp_path: Path) -> None:
    table = """
[[matters.overrides]]
province = "330000"
mode = "proxy"
process = [
  { step = "ACCEPT", role = "RECEIVING", limit_days = 1 },
  { step = "REVIEW", role = "HANDLING", limit_days = 5 },
  { step = "TRANSFER", role = "RECEIVING", limit_days = 3 },
]
"""
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, with_overrides(table))
    assert str(caught.value) == (
        "catalog.toml: matter HCP-X override province 330000 mode proxy: "
        "changes nothing: 'process' is the same as the national process"
    )
    bad_step = table.replace("limit_days = 5 }", "limit_days = 0 }")
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, with_overrides(bad_step))
    assert str(caught.value) == (
        "catalog.toml: matter HCP-X override province 330000 mode proxy step 2: "
        "limit_days must be at least 1 working day (got 0)"
    )


def test_overrides_must_be_tables(tmp_path: Path) -> None:
    text = VALID.replace('modes = ["proxy"]', 'modes = ["proxy"]\noverrides = "330000"')
    with pytest.raises(CatalogError) as caught:
        load_text(tmp_path, text)
    assert str(caught.value) == (
        "catalog.toml: matter HCP-X: field 'overrides' must be a non-empty array of tables ([[matters.overrides]])"
    )
