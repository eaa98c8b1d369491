"""Who answers for a step: the organisation that did it in this case, else the catalog's role.

Hand-offs between provinces (TRANSFER, or DATA_SHARE with transfer events) name both sides and
blame the side whose part took longer: the sender holding materials, or the receiver not taking
them in. Without a record of the step the role comes from the catalog (the process of the province
that would perform it, docs/catalog.md) and the province from the timeline or the rating.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from haochaping.catalog import Catalog, Process
from haochaping.codes import Role, StepKind
from haochaping.events import RatingEvent
from haochaping.timeline import CaseTimeline, Handoff, StepFacts, StepRecord
from haochaping.tracing.attribution import Responsible

# Roles whose province is the rater's own: the window they went to, the portal they used.
_LOCAL_ROLES = frozenset({Role.RECEIVING, Role.PLATFORM})
# If neither the case nor the catalog says who does a step (a step missing from the process).
_USUAL_ROLE: dict[StepKind, Role] = {
    StepKind.GUIDE: Role.RECEIVING,
    StepKind.IDENTITY: Role.PLATFORM,
    StepKind.APPLY: Role.PLATFORM,
    StepKind.SUBMIT: Role.RECEIVING,
    StepKind.ACCEPT: Role.RECEIVING,
    StepKind.VERIFY: Role.RECEIVING,
    StepKind.DATA_SHARE: Role.DATA_PROVIDER,
    StepKind.TRANSFER: Role.RECEIVING,
    StepKind.REVIEW: Role.HANDLING,
    StepKind.DECIDE: Role.HANDLING,
    StepKind.PAYMENT: Role.HANDLING,
    StepKind.DELIVER: Role.LOGISTICS,
    StepKind.NOTIFY: Role.PLATFORM,
}
# How much a fallback costs in confidence.
ROLE_ONLY = 0.9  # the catalog role, no organisation from the case
PROVINCE_GUESSED = 0.8  # the rating's province standing in for an unknown one


@dataclass(frozen=True, slots=True)
class Assignment:
    responsible: Responsible
    certainty: float  # 1.0 when the case names the organisation
    evidence: tuple[str, ...]


def assign(
    step: StepKind,
    rating: RatingEvent,
    records: dict[StepKind, StepFacts],
    timeline: CaseTimeline | None,
    catalog: Catalog,
) -> Assignment:
    facts = records.get(step)
    if facts is not None and facts.first_out is not None:
        record = facts.record()
        if record.handoff is not None:
            return _handoff_side(record, record.handoff, rating, records)
    if facts is not None:
        org = facts.org
        return Assignment(Responsible(org.role.value, org.province, org.code), 1.0, ())
    role = _catalog_role(step, rating, records, timeline, catalog)
    return _role_level(role, rating, records)


def policy_owner(rating: RatingEvent, records: dict[StepKind, StepFacts]) -> Assignment:
    """A policy difference is no organisation's process fault, but the rules are the handling
    province's (its 报销比例, its 待遇): name that province at role level, without an org."""
    return _role_level(Role.HANDLING, rating, records)


def _handoff_side(
    record: StepRecord, handoff: Handoff, rating: RatingEvent, records: dict[StepKind, StepFacts]
) -> Assignment:
    sender = handoff.sender
    receiver = handoff.receiver
    to_province = receiver.province if receiver is not None else "?"
    if handoff.transit_days is None:
        route = f"handoff:{sender.province}→{to_province} sent, not received"
    elif receiver is None:
        route = f"handoff:{sender.province}→? not received after {handoff.transit_days:.1f} working days"
    else:
        route = f"handoff:{sender.province}→{to_province} took {handoff.transit_days:.1f} working days"
    evidence = [route]
    dispatch = handoff.dispatch_days
    if dispatch is not None and dispatch > 0.05:
        evidence.append(f"handoff:{sender.province} held it {dispatch:.1f} working days before sending")
    transit = handoff.transit_days
    if not record.breached:
        # Not late: nobody's delay to blame, so the step's owner in the catalog answers for it
        # (the sender for TRANSFER), named as the organisation that sent.
        side = sender if record.catalog_role in (None, sender.role) else (receiver or sender)
    elif dispatch is not None and transit is not None and dispatch > transit:
        side = sender  # the materials sat with the sender
    elif transit is not None and transit > 0 and receiver is not None:
        side = receiver  # sent in time, taken in late
    elif transit is not None and transit > 0:
        # Not received yet: the receiving side is the step after the hand-off's organisation.
        receiving_role = Role.HANDLING if sender.role != Role.HANDLING else Role.RECEIVING
        role_level = _role_level(receiving_role, rating, records)
        return Assignment(role_level.responsible, role_level.certainty, (*evidence, *role_level.evidence))
    else:
        side = record.org
    return Assignment(Responsible(side.role.value, side.province, side.code), 1.0, tuple(evidence))


def _catalog_role(
    step: StepKind,
    rating: RatingEvent,
    records: dict[StepKind, StepFacts],
    timeline: CaseTimeline | None,
    catalog: Catalog,
) -> Role:
    if timeline is not None:
        process, _known = catalog.process(timeline.matter_code, timeline.mode)
        spec = process.spec_for(step)
        role = spec.role if spec is not None else _USUAL_ROLE[step]
        provincial = catalog.overrides(timeline.matter_code, timeline.mode)
        if provincial:
            # Nobody did the step yet: the province whose office holds its national role in this
            # case would, so that province's process says who does it there.
            local = provincial.get(_province_of(role, rating, records))
            local_spec = local.spec_for(step) if local is not None else None
            if local_spec is not None:
                role = local_spec.role
        return role
    # No case: the rating's province is the only one known.
    matter = catalog.matters.get(rating.matter_code)
    # Keys stay bounded whatever codes the wire brings: unknown matters share the generic answer.
    code = rating.matter_code if matter is not None else None
    province = rating.province if matter is not None and matter.overrides else None
    key = (id(catalog), code, province, step)
    cached = _MODELESS_ROLES.get(key)
    if cached is None or cached[0] is not catalog:
        cached = _MODELESS_ROLES[key] = (catalog, _modeless_role(step, rating.matter_code, province, catalog))
    return cached[1]


# (catalog id, matter, province, step) → role; catalogs are immutable, the identity check guards
# id reuse. Matter and province are None where they cannot change the answer.
_MODELESS_ROLES: dict[tuple[int, str | None, str | None, StepKind], tuple[Catalog, Role]] = {}


def _modeless_role(step: StepKind, matter_code: str, province: str | None, catalog: Catalog) -> Role:
    """No case: the mode is unknown, so ask every process the matter (or the generic set) has."""
    matter = catalog.matters.get(matter_code)
    processes: list[Process] = (
        [catalog.process(matter_code, mode, province)[0] for mode in matter.processes]
        if matter is not None
        else list(catalog.generic.values())
    )
    roles = Counter(spec.role for process in processes if (spec := process.spec_for(step)) is not None)
    if not roles:
        return _USUAL_ROLE[step]
    # Most common role; ties go to the role order of the codes, so the answer is stable.
    return max(roles, key=lambda role: (roles[role], -list(Role).index(role)))


def _province_of(role: Role, rating: RatingEvent, records: dict[StepKind, StepFacts]) -> str:
    """The province whose office plays the role in this case, as _role_level names it."""
    if role not in _LOCAL_ROLES:
        provinces = {record.org.province for record in records.values() if record.org.role == role}
        if len(provinces) == 1:
            return provinces.pop()
    return rating.province


def _role_level(role: Role, rating: RatingEvent, records: dict[StepKind, StepFacts]) -> Assignment:
    if role in _LOCAL_ROLES:
        return Assignment(Responsible(role.value, rating.province, None), ROLE_ONLY, ())
    provinces = {record.org.province for record in records.values() if record.org.role == role}
    if len(provinces) == 1:
        return Assignment(Responsible(role.value, provinces.pop(), None), ROLE_ONLY, ())
    return Assignment(
        Responsible(role.value, rating.province, None),
        ROLE_ONLY * PROVINCE_GUESSED,
        (f"responsible:{role.value} province unknown, using the rating's {rating.province}",),
    )
