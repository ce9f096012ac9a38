"""The 2012 programme as councils ran it (seeds 003 and 004): records, identification, attachment and claims.

A layer over each family's true problems. Once a month, from the
programme's start:

1. **Records.** A council sees a problem ``lag`` years after it begins,
   unless that episode never reaches its records (``miss``), and for
   ``lookback`` years after it ends (the criteria count an offence in the
   last 12 months, absence over the last three terms). Benefit records
   exist only from the date the DWP gateway opened.
2. **Identification.** A council's search finds, at ``search_rate`` a
   year, families that meet the framework's definition (all three of
   crime/ASB, education and worklessness, or two and a local concern) as
   its own services know them: referrals see problems late but miss none
   (seed 004: the source of a referral did not matter if the presenting
   issues were recorded). It lists them up to its allocation and no more
   (the allocation is a quota). Six months in (``widen_after``), a council
   still short widens its local criterion to any of the family's counted
   problems, within the framework's local discretion. Families whose
   *datasets* (police, schools, DWP, each missing some episodes) show the
   definition are *eligible* for payment by results.
3. **Attachment.** Each month a council refers ``pace`` x (goal -
   families referred) / months left of its listed families to its key
   workers: first those eligible for payment by results, and among them
   those whose records show fewest of the criteria now
   (``choose_improving``; else oldest first). The goal is its year-one
   commitment (``year_one_share``) by the assurance date, then its whole
   allocation by ``attach_by`` (``front_load``; else the allocation by the
   programme's end). A family is *attached* when its key-worker
   intervention starts, at once if one is under way, and then counts from
   when that intervention began (``retrospective``, never before the
   programme's start). No council refers more families than its
   allocation. From the assurance date, a council's attachment fees wait
   until it has attached ``assurance_share`` of its year-one commitment.
4. **Evidence and claims.** Each month the council counts what its
   records show of each attached family: anti-social behaviour incidents
   and offences by minors while the crime/ASB problem lasts, sessions
   missed and exclusions while the education problem lasts (each episode
   with its own rate, varying month to month; ``intensity``). For
   families eligible for payment by results it checks the financial
   framework's rules (:mod:`flowsim.engine.framework_rules`): incidents
   down 60% and offences 33% over the last six months against
   the six before attachment; under 15% absence and fewer than three
   exclusions over three terms; an adult off out-of-work benefits into
   continuous work for 26 weeks (13 from Income Support or ESA), a new
   partner's work not counted. A family attached to ESF provision (its
   places a year shared among attached families still on benefits) earns
   the progress-to-work payment. Evidence, once met, stays met (the family
   may have left the caseload, or the area). At each claim window the
   council claims every evidenced result not yet claimed, one of each kind
   per family, the employment result in place of the crime/ASB and
   education one. Each claim keeps whether the truth met the rule when the
   records did (the same counts with no episode missing from the records).

Families of the sampled population (``weight > 1``) that a council finds
are copied into families tracked one by one (as when a sampled family
comes to be at risk), so each can be listed and attached on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from flowsim.engine.codes import (
    CLAIM_CRIME_EDUCATION,
    CLAIM_EMPLOYMENT,
    CLAIM_PROGRESS,
    CRIME,
    EDUCATION,
    ENROLLED,
    OUT,
    WAITING,
    WORKLESS,
)
from flowsim.engine.crn import _unit, mix
from flowsim.engine.framework_rules import crime_asb_met, education_met, employment_met

INF = np.inf
_HELD, _ATTACHED = 2, 1  # values of the family store's ``attached`` column (0: neither)
_SALT_RECORD = np.uint64(0x9FB21C651E98DF25)
_SALT_SEARCH = np.uint64(0xC13FA9A902A6328F)
_SALT_ESF = np.uint64(0x5A17C3E1B04D9F27)
#: Salts of the draws behind the monthly counts: each episode's rates, then each month's variation and count.
_SALT_RATE = np.uint64(0x2B7E151628AED2A6)
_SALT_MONTH = np.uint64(0x3C6EF372FE94F82B)
_MIN_RING = 16  # months of counts kept per attached family at least (the defaults need 14: 10 months and a lag of 4)
#: Columns of the monthly counts: true incidents, offences, absence share, exclusions, then the same as recorded.
_ASB, _OFF, _ABS, _EXC = range(4)
_DOMAIN_BITS = (CRIME, EDUCATION, WORKLESS)


@dataclass(frozen=True)
class Programme2012Spec:
    """The councils and their rules, in model years, allocations already scaled."""

    names: tuple[str, ...]
    allocation: np.ndarray  # (C,) int: families each council may attach (scaled)
    allocation_published: np.ndarray  # (C,) int: as published
    framework: tuple[int, int, int]  # problem indices of crime/ASB, education, worklessness
    local: tuple[int, ...]  # problem indices that count as a local concern
    local_wide: tuple[int, ...]  # ... once a council's local criterion has widened
    widen: bool
    widen_after: float
    front_load: bool  # councils' behaviour (registry_programme_2012's ``councils``), each with its switch
    attach_by: float
    later_pace: float  # the pace after year one, with front-loading
    choose_improving: bool
    retrospective: bool
    lag: np.ndarray  # (4,) crime/ASB, education, workless, local
    lookback: np.ndarray
    miss: np.ndarray
    # Detection by a programme: (problem, programme, ratio): while a family is in that programme, an episode of that
    # problem reaches the records ``ratio`` times as often (at most always). None: no such programme runs.
    detection: tuple[int, int, float] | None
    available_t: np.ndarray
    search_rate: float
    identify_up_to: float
    pace: float
    year_one_share: float
    assurance_share: float
    assurance_t: float
    evidence_years: np.ndarray  # (2,) the crime/ASB and education windows
    asb_fall: float  # the framework's rules (flowsim.engine.framework_rules)
    offending_fall: float
    max_exclusions: int
    max_absence: float
    windows_after: bool  # the crime/ASB and education windows must lie wholly after attachment
    employment_weeks: tuple[float, float]  # from Jobseeker's Allowance; from Income Support or ESA
    lone_bit: int  # the risk factor and problem that mark Income Support or ESA
    illness: int
    # What a present problem brings (flowsim.scenario.registry_programme_2012's ``intensity``).
    asb_per_half_year: float
    asb_shape: float
    offences_per_half_year: float
    offences_shape: float
    month_shape: float
    absence_share: float
    absence_spread: float
    background_absence: float
    exclusions_per_year: float
    esf_per_month: float  # ESF places a month (scaled)
    start_t: float  # the attachment window
    end_t: float
    attach_t: np.ndarray  # programme years start at these times
    claim_t: tuple[float, ...]

    @property
    def first_t(self) -> float:
        """When the administration first acts (nothing is recorded for it before)."""
        return float(min(self.start_t, *self.available_t))


def council_order(rows) -> list[int]:
    """Councils in the order the new approach reaches them: the Community Budget areas of April 2011 first, then
    the rest by allocation per family with children (assumption: the roll-out went where need was greatest)."""

    def need(r):
        return r["allocation"] / max(r["families_with_children"], 1)

    return sorted(range(len(rows)), key=lambda i: (not rows[i]["community_budget_phase1"], -need(rows[i]), i))


#: Risk factors that mark a family's disadvantage for where it lives (those loading 0.3 or more on the latent
#: disadvantage, flowsim.scenario.registry_problems.FACTOR_LOADINGS, lone parents apart: they have their own counts).
DEPRIVATION_FACTORS = (
    "four_plus_children",
    "young_mother",
    "low_maternal_education",
    "social_tenant",
    "poor_home_learning",
)


def council_cumulative(rows, power: float = 0.0) -> np.ndarray:
    """(2, K + 1, C): cumulative shares of councils among couple families (0) and lone-parent families (1) with
    k = 0..K of :data:`DEPRIVATION_FACTORS`.

    A council's families are spread as the 2011 Census counts them, tilted by its need (allocation per family with
    children, against England's): a family with k of the factors lives in council c with weight
    ``families_c x need_c ** (power x k)``, need measured against the councils run (so one council alone is not
    tilted). DCLG apportioned the allocations by the Index of Multiple Deprivation and
    the Child Well-Being Index (OCSI 2015), so need stands for those indices, and the more disadvantaged a family,
    the likelier it lives where they are high.
    """
    lone = np.array([r["lone_parent_families"] for r in rows], float)
    couple = np.array([r["families_with_children"] for r in rows], float) - lone
    families = lone + couple
    alloc = np.array([r["allocation"] for r in rows], float)
    need = (alloc / np.maximum(families, 1.0)) / (alloc.sum() / families.sum())
    out = np.empty((2, len(DEPRIVATION_FACTORS) + 1, len(rows)))
    for i, base in enumerate((couple, lone)):
        for k in range(out.shape[1]):
            w = base * need ** (power * k)
            out[i, k] = np.cumsum(w) / w.sum()
    return out


def _meets(flags: np.ndarray, wide: np.ndarray | bool = False) -> np.ndarray:
    """The framework's definition: all three criteria, or two of them and a local concern (where the council's
    local criterion has widened, ``wide``, any of the family's counted problems is one)."""
    national = flags[:, :3].sum(axis=1)
    return (national == 3) | ((national == 2) & (flags[:, 3] | (wide & flags[:, 4])))


def _hash_unit(key: np.ndarray, a: np.ndarray, salt: np.uint64, seed: np.uint64) -> np.ndarray:
    return _unit(mix(key ^ mix(a.astype(np.uint64) ^ salt) ^ seed))


class Administration:
    """One replication's councils: their lists, referrals, evidence and claims (state lives in the family store)."""

    def __init__(self, spec: Programme2012Spec, seed64: int) -> None:
        self.spec = spec
        self.seed = np.uint64(seed64 & 0xFFFFFFFFFFFFFFFF)
        c = len(spec.names)
        self.eligible = np.zeros(c, np.int64)  # eligible families identified, by council
        self.listed = np.zeros(c, np.int64)  # families on each council's list (eligible or not)
        self.referred = np.zeros(c, np.int64)  # families referred or attached, by council
        self.assured_t = np.full(c, INF)  # when each council met the assurance rule
        self.attached = np.zeros(c, np.int64)  # families attached, by council
        self.identified_log: list[tuple[np.ndarray, ...]] = []  # t, council, weight, eligible at identification
        self.eligible_log: list[tuple[np.ndarray, ...]] = []  # t, council, weight (later than identification)
        self.attached_log: list[tuple[np.ndarray, ...]] = []  # t, council, programme year, family key
        self.claim_log: list[tuple[np.ndarray, ...]] = []  # t, council, route, true, family key, programme year
        self._last = -1  # the last month index the councils worked
        # Months of counts kept per attached family: every window and its lag, and the months before attachment.
        lags = np.round(spec.lag[:2] * 12).astype(int)
        windows = np.round(spec.evidence_years * 12).astype(int)
        self._ring = int(max(_MIN_RING, (lags + windows).max() + 2, 2 * windows[0] + 2))
        self._wide = np.zeros(c, bool)  # councils whose local criterion has widened (it stays widened)
        self._worked_before = {}  # family key -> the months before its key worker began (as _before's columns)
        self._snapshot = False  # whether the families already with a key worker at the programme's start are kept
        # Per attached family (its row's ``tf_slot``): the six months before attachment (true incidents and
        # offences, then as recorded), the last months' counts (``_ring`` months by the month's index, 8 columns: true,
        # then recorded), the weeks of work its benefit needs, and whether it was a lone parent's.
        self._before = np.zeros((0, 4), np.float32)
        self._counts = np.zeros((0, self._ring, 8), np.float32)
        self._weeks = np.zeros(0, np.float32)
        self._lone = np.zeros(0, bool)
        self._slots = 0
        self._recorded = -1  # the last month counted
        self._esf_carry = 0.0

    # --- records ----------------------------------------------------------------------------------
    def _flags(self, f, ids: np.ndarray, t: float, data: bool = True) -> np.ndarray:
        """(n, 5) bool: what the council sees of crime/ASB, education, worklessness, a local concern and a concern
        under the widened local criterion.

        ``data``: in the datasets results are evidenced from (each episode may be missing); otherwise as the
        council's own services know the family (referrals: late, but nothing missed).
        """
        s = self.spec
        out = np.zeros((ids.size, 5), bool)
        probs, key = f.problems[ids], f.key[ids]
        for col, js in enumerate((*((j,) for j in s.framework), s.local, s.local_wide)):
            d = min(col, 3)  # the widened local criterion is read from the same records as the local one
            if t < s.available_t[d]:
                continue
            for j in js:
                since = f.since[ids, j]
                present = ((probs >> j) & 1).astype(bool)
                seen = self._seen(f, ids, key, since, j, d) if data else True
                shown = np.where(
                    present, since <= t - s.lag[d], np.isfinite(since) & (t - s.lag[d] < since + s.lookback[d])
                )
                out[:, col] |= seen & shown
        return out

    def _seen(self, f, ids: np.ndarray, key: np.ndarray, since: np.ndarray, j: int, d: int) -> np.ndarray:
        """Whether the datasets hold the episode of problem ``j`` that began (or ended) at ``since``: one draw per
        family, problem and episode, so asking again gives the same answer. A programme that detects problem ``j``
        (:attr:`Programme2012Spec.detection`) raises the chance for the families in it now."""
        u = _hash_unit(key, since.view(np.uint32) + np.uint64(j << 40), _SALT_RECORD, self.seed)
        miss = self.spec.miss[d]
        det = self.spec.detection
        if det is not None and j == det[0]:
            found = min(1.0, det[2] * (1.0 - miss))
            miss = np.where(f.prog_status[ids, det[1]] == ENROLLED, 1.0 - found, miss)
        return u >= miss

    def _clear(self, f, ids: np.ndarray, j: int, d: int, t: float, years: float) -> tuple[np.ndarray, np.ndarray]:
        """Whether problem ``j`` is absent over the evidence period in the records, and in truth."""
        s = self.spec
        since = f.since[ids, j]
        present = ((f.problems[ids] >> j) & 1).astype(bool)
        seen = self._seen(f, ids, f.key[ids], since, j, d)
        seen_to = t - s.lag[d]  # the records show the family as it was then
        in_records = np.where(present, ~(seen & (since <= seen_to)), ~(seen & (since > seen_to - years)))
        true = ~present & (since <= seen_to - years)
        return in_records, true

    # --- one month ---------------------------------------------------------------------------------
    def month(self, model, t: float) -> None:
        """The councils' work at month boundary ``t`` (once a month): the month's counts, evidence, ESF places,
        identification, then referrals."""
        s = self.spec
        index = int(round(t * 12))
        if t < s.first_t or index <= self._last:
            return
        self._last = index
        if t >= s.start_t and not self._snapshot and model.key_worker >= 0:
            self._snapshot = True
            kw = model.key_worker
            f = model.families
            under_way = np.flatnonzero((f.prog_status[: f.n, kw] == ENROLLED) & (f.attached[: f.n] != _ATTACHED))
            self._remember(f, under_way, np.full(under_way.size, s.start_t))
        self._count(model.families, t)
        self._evidence(model.families, t)
        if s.start_t <= t < s.end_t:
            self._esf(model.families, t)
        if t < s.end_t:
            self._identify(model, t)
            if t >= s.start_t:
                self._refer(model, t)
        self._assure(t)

    def _identify(self, model, t: float) -> None:
        s, f = self.spec, model.families
        n = f.n
        live = (f.weight[:n] > 0) & (f.state[:n] != OUT)
        room = np.ceil(s.identify_up_to * s.allocation) - self.listed
        wide = self._widened(t)
        new = np.flatnonzero(live & ~np.isfinite(f.t_identified[:n]) & (room > 0)[f.council[:n]])
        later = np.flatnonzero(live & np.isfinite(f.t_identified[:n]) & ~np.isfinite(f.t_eligible[:n]))
        p_found = 1.0 - np.exp(-s.search_rate / 12.0)
        month = np.uint64(int(round(t * 12)) & 0xFFFF)
        u = _hash_unit(f.key[new], np.full(new.size, month), _SALT_SEARCH, self.seed)
        new = new[u < p_found]
        new = new[_meets(self._flags(f, new, t, data=False), wide[f.council[new]])]
        pooled = new[f.weight[new] > 1]
        if pooled.size:  # a sampled family found stands for a group: each is tracked, and listed, one by one
            new = np.concatenate([new[f.weight[new] == 1], model.split_rows(pooled, t)])
        known = self._flags(f, new, t, data=False)
        fits = self._within(f, new, room)  # a council lists families up to its allocation, no more
        new, known = new[fits], known[fits]
        eligible = _meets(self._flags(f, new, t), wide[f.council[new]])
        later = later[_meets(self._flags(f, later, t), wide[f.council[later]])]
        rows = np.concatenate([new[eligible], later])
        if new.size:
            f.t_identified[new] = t
            # The criteria a family was listed for are the ones its results must show improved.
            f.attached_domains[new] = (known[:, :3] * np.array(_DOMAIN_BITS, np.uint8)).sum(axis=1).astype(np.uint8)
            f.attached[new] = np.where(f.attached[new] == 0, _HELD, f.attached[new])
            np.add.at(self.listed, f.council[new], f.weight[new])
            self.identified_log.append(
                (np.full(new.size, t), f.council[new].astype(np.int16), f.weight[new].astype(np.int32), eligible)
            )
        if rows.size:
            f.t_eligible[rows] = t
            if later.size:
                self.eligible_log.append((np.full(later.size, t), f.council[later].astype(np.int16), f.weight[later]))
            np.add.at(self.eligible, f.council[rows], f.weight[rows])

    def _widened(self, t: float) -> np.ndarray:
        """(C,) bool: councils whose local criterion has widened to any of the family's counted problems other than
        the three criteria (their list was still short of their allocation once ``widen_after`` years of the
        programme had passed; once widened, it stays so)."""
        s = self.spec
        if s.widen and t >= s.start_t + s.widen_after:
            self._wide |= self.listed < np.ceil(s.identify_up_to * s.allocation)
        return self._wide

    def _within(self, f, rows: np.ndarray, room: np.ndarray) -> np.ndarray:
        """Which of ``rows`` (newly found) fit in their council's ``room`` on its list, taken in random order."""
        if not rows.size:
            return np.zeros(0, bool)
        council = f.council[rows].astype(np.int64)
        order = np.lexsort((f.key[rows], council))
        w = f.weight[rows][order].astype(np.int64)
        c = council[order]
        cum = np.cumsum(w)
        start = np.searchsorted(c, c, side="left")
        before = cum - w - np.where(start > 0, cum[start - 1], 0)
        ok = np.zeros(rows.size, bool)
        ok[order] = before + w <= room[c]
        return ok

    def _refer(self, model, t: float) -> None:
        s, f = self.spec, model.families
        n = f.n
        kw = model.key_worker
        # A referral that lapsed (the family left the queue or the area before it started) frees its place.
        lapsed = np.flatnonzero(f.tf_referred[:n] & (f.attached[:n] != _ATTACHED) & (f.prog_status[:n, kw] != WAITING))
        if lapsed.size:
            f.tf_referred[lapsed] = False
            np.subtract.at(self.referred, f.council[lapsed], 1)
        goal, until = s.allocation, s.end_t
        if s.front_load:  # the year-one commitment by the assurance date, then the rest by ``attach_by``
            goal, until = (s.year_one_share * s.allocation, s.assurance_t) if t < s.assurance_t else (goal, s.attach_by)
        months_left = max(int(np.ceil((until - t) * 12 - 1e-9)), 1)
        pace = s.later_pace if s.front_load and t >= s.assurance_t else s.pace
        quota = np.minimum(np.ceil(pace * (goal - self.referred) / months_left), s.allocation - self.referred)
        quota = np.maximum(quota, 0).astype(np.int64)
        if not quota.any():
            return
        ready = np.flatnonzero(
            np.isfinite(f.t_identified[:n])
            & ~f.tf_referred[:n]
            & (f.attached[:n] != _ATTACHED)
            & (f.weight[:n] == 1)
            & (f.state[:n] != OUT)
        )
        if not ready.size:
            return
        council = f.council[ready].astype(np.int64)
        # Oldest on the list first; choosing, a council takes first the families eligible for payment by results,
        # and among them those whose records show fewest of the three criteria now (those already improving).
        shown = self._flags(f, ready, t)[:, :3].sum(axis=1) if s.choose_improving else np.zeros(ready.size, int)
        unpaid = ~np.isfinite(f.t_eligible[ready]) if s.choose_improving else np.zeros(ready.size, bool)
        order = np.lexsort((f.key[ready], f.t_identified[ready], shown, unpaid, council))
        ready, council = ready[order], council[order]
        rank = np.arange(ready.size) - np.searchsorted(council, council, side="left")
        chosen = ready[rank < quota[council]]
        if not chosen.size:
            return
        np.add.at(self.referred, f.council[chosen], 1)
        f.tf_referred[chosen] = True
        flags = self._flags(f, chosen, t)  # with any criterion the datasets show now
        f.attached_domains[chosen] |= (flags[:, :3] * np.array(_DOMAIN_BITS, np.uint8)).sum(axis=1).astype(np.uint8)
        working = np.zeros(chosen.size, bool)
        for k in model.worker_programmes:
            working |= f.prog_status[chosen, k] == ENROLLED
        worked = chosen[working]
        dated = np.full(worked.size, t)
        if s.retrospective:  # attached from when the key worker began, but not before the programme did
            began = np.where(f.prog_status[worked, kw] == ENROLLED, f.t_worked[worked], np.inf)
            dated = np.where(np.isfinite(began), np.clip(began, s.start_t, t), t)
        self.attach(f, worked, np.full(worked.size, t), dated)
        waiting = f.prog_status[chosen, kw] == WAITING
        model.refer(chosen[~working & ~waiting], t)

    def attach(self, f, ids: np.ndarray, started: np.ndarray, dated: np.ndarray | None = None) -> None:
        """Families the councils referred whose intervention started (or was under way) at ``started``: attached.

        ``dated``: when the attachment counts from for its evidence (a family already being worked with may be
        attached from when its key worker began); the attachment itself is logged at ``started``. Every key-worker
        start is remembered (``t_worked``) for that.
        """
        s = self.spec
        dated = started if dated is None else dated
        fresh = (f.attached[ids] != _ATTACHED) & ~f.tf_referred[ids]
        f.t_worked[ids[fresh]] = started[fresh]
        if s.retrospective and (started >= s.start_t).any():
            during = fresh & (started >= s.start_t) & (started < s.end_t)
            self._remember(f, ids[during], started[during])
        ok = f.tf_referred[ids] & (f.attached[ids] != _ATTACHED) & (started < s.end_t)
        ids, started, dated = ids[ok], started[ok], dated[ok]
        if not ids.size:
            return
        f.attached[ids] = _ATTACHED
        f.t_attached[ids] = dated
        year = np.maximum(np.searchsorted(s.attach_t, started, side="right") - 1, 0).astype(np.int8)
        f.attached_year[ids] = year
        self._open(f, ids, dated, started)
        council = f.council[ids].astype(np.int16)
        self.attached_log.append((started.copy(), council, year, f.key[ids].copy(), dated.copy()))
        np.add.at(self.attached, council, 1)

    def _assure(self, t: float) -> None:
        s = self.spec
        if t < s.assurance_t:
            return
        need = s.assurance_share * s.year_one_share * s.allocation  # a council late in year one may catch up
        met = ~np.isfinite(self.assured_t) & (self.attached >= need)
        self.assured_t[met] = t

    # --- counts ----------------------------------------------------------------------------------------
    def _rates(self, key: np.ndarray, since: np.ndarray, j: int) -> tuple[np.ndarray, ...]:
        """Each episode's rates (one draw per family, problem and episode): incidents and offences a month for
        crime/ASB, or the share of sessions missed and exclusions a month for education."""
        s = self.spec
        tag = since.view(np.uint32).astype(np.uint64) + np.uint64(j << 40)
        u1 = _hash_unit(key, tag, _SALT_RATE, self.seed)
        u2 = _hash_unit(key, tag + np.uint64(1 << 48), _SALT_RATE, self.seed)
        if j == s.framework[0]:
            asb = stats.gamma.ppf(u1, s.asb_shape, scale=s.asb_per_half_year / s.asb_shape / 6.0)
            off = stats.gamma.ppf(u2, s.offences_shape, scale=s.offences_per_half_year / s.offences_shape / 6.0)
            return asb, off
        m, c = s.absence_share, s.absence_spread
        return stats.beta.ppf(u1, m * c, (1.0 - m) * c), np.full(key.size, s.exclusions_per_year / 12.0)

    def _month_counts(self, key, month: np.ndarray, present: np.ndarray, rates, j: int) -> np.ndarray:
        """(n, 2): one month's counts for problem ``j`` (incidents and offences, or absence share and exclusions),
        from the episode's ``rates`` while ``present``; the month's draws are the family's and the month's alone."""
        s = self.spec
        tag = month.astype(np.uint64) + np.uint64((j + 1) << 32)
        u = [_hash_unit(key, tag + np.uint64(i << 48), _SALT_MONTH, self.seed) for i in range(3)]
        g = stats.gamma.ppf(u[0], s.month_shape, scale=1.0 / s.month_shape)  # the month's variation, mean 1
        out = np.zeros((key.size, 2))
        if j == s.framework[0]:
            for c in range(2):
                mu = rates[c] * g * present
                out[:, c] = np.where(mu > 0, stats.poisson.ppf(u[1 + c], np.maximum(mu, 1e-300)), 0.0)
        else:
            out[:, 0] = np.where(present, np.minimum(rates[0] * g, 1.0), s.background_absence)
            mu = rates[1] * present
            out[:, 1] = np.where(mu > 0, stats.poisson.ppf(u[1], np.maximum(mu, 1e-300)), 0.0)
        return out

    def _open(self, f, ids: np.ndarray, dated: np.ndarray, now: np.ndarray) -> None:
        """Newly attached families (at ``now``, counting from ``dated``): their slots, their benefit's weeks, the six
        months before ``dated`` and the months the records hold up to ``now``.

        Months before ``now`` are read back from each problem's last change: a problem present now has been since it
        began; one that has ended was present until then (its start is not kept, so a month before its end counts as
        present). The draws are each month's own, so a month counted now and later is the same month.
        """
        s = self.spec
        n = ids.size
        if self._slots + n > self._weeks.size:
            cap = max(2 * self._weeks.size, self._slots + n, 64)
            self._before = np.resize(self._before, (cap, 4))
            self._counts = np.resize(self._counts, (cap, self._ring, 8))
            self._weeks = np.resize(self._weeks, cap)
            self._lone = np.resize(self._lone, cap)
        slots = np.arange(self._slots, self._slots + n)
        self._slots += n
        f.tf_slot[ids] = slots
        lone = ((f.factors[ids] >> s.lone_bit) & 1).astype(bool)
        ill = ((f.problems[ids] >> s.illness) & 1).astype(bool)
        self._lone[slots] = lone
        self._weeks[slots] = np.where(lone | ill, s.employment_weeks[1], s.employment_weeks[0])
        key = f.key[ids]
        last = np.floor(now * 12 + 1e-9).astype(np.int64)
        for (j, d), col in zip(((s.framework[0], 0), (s.framework[1], 1)), (_ASB, _ABS), strict=True):
            since = f.since[ids, j]
            present = ((f.problems[ids] >> j) & 1).astype(bool)
            rates = self._rates(key, since, j)
            seen = self._seen(f, ids, key, since, j, d)

            for k in range(self._ring):
                m = last - k
                on = np.where(present, since <= m / 12.0, (since > m / 12.0) & np.isfinite(since))
                self._record(slots, m, col, self._month_counts(key, m, on, rates, j), on & ~seen)
        before = self._before_counts(f, ids, dated)
        if self._worked_before:  # attached from when its key worker began: the months before then, counted then
            keys = f.key[ids].tolist()
            for i, k in enumerate(keys):
                kept = self._worked_before.get(k)
                if kept is not None and dated[i] < now[i]:
                    before[i] = kept
        self._before[slots] = before

    def _remember(self, f, ids: np.ndarray, at: np.ndarray) -> None:
        """The months before ``at`` for families whose key worker began then (retrospective attachment reads them)."""
        if ids.size:
            for k, row in zip(f.key[ids].tolist(), self._before_counts(f, ids, at), strict=True):
                self._worked_before[k] = row

    def _before_counts(self, f, ids: np.ndarray, dated: np.ndarray) -> np.ndarray:
        """(n, 4): incidents and offences in the crime/ASB window's length before ``dated`` (true, then recorded), read
        back from the problem's last change as it is now."""
        s = self.spec
        j, d = s.framework[0], 0
        key, since = f.key[ids], f.since[ids, j]
        present = ((f.problems[ids] >> j) & 1).astype(bool)
        rates = self._rates(key, since, j)
        seen = self._seen(f, ids, key, since, j, d)
        first = np.floor(dated * 12 + 1e-9).astype(np.int64)  # the month ending at or before attachment
        out = np.zeros((ids.size, 4))
        for k in range(int(round(s.evidence_years[0] * 12))):
            m = first - k
            on = np.where(present, since <= m / 12.0, (since > m / 12.0) & np.isfinite(since))
            out[:, :2] += self._month_counts(key, m, on, rates, j)
        out[:, 2:] = out[:, :2] * seen[:, None]
        return out

    def _record(self, slots, month, col: int, counts: np.ndarray, missed: np.ndarray) -> None:
        """Store one month's counts (true, and as recorded: a missed episode shows nothing beyond the background)."""
        s = self.spec
        ring = np.asarray(month) % self._ring
        self._counts[slots, ring, col : col + 2] = counts
        recorded = counts.copy()
        if col == _ABS:
            recorded[:, 0] = np.where(missed, s.background_absence, counts[:, 0])
            recorded[:, 1] *= ~missed
        else:
            recorded *= ~missed[:, None]
        self._counts[slots, ring, 4 + col : 4 + col + 2] = recorded

    def _count(self, f, t: float) -> None:
        """The month ending at ``t``: each attached family's counts, true and as its council's records show them."""
        s = self.spec
        month = int(round(t * 12))
        if month <= self._recorded:
            return
        self._recorded = month
        n = f.n
        ids = np.flatnonzero((f.attached[:n] == _ATTACHED) & (f.state[:n] != OUT) & (f.tf_slot[:n] >= 0))
        if not ids.size:
            return
        slots = f.tf_slot[ids]
        key = f.key[ids]
        for (j, d), col in zip(((s.framework[0], 0), (s.framework[1], 1)), (_ASB, _ABS), strict=True):
            since = f.since[ids, j]
            present = ((f.problems[ids] >> j) & 1).astype(bool)
            counts = self._month_counts(key, np.full(ids.size, month), present, self._rates(key, since, j), j)
            missed = present & ~self._seen(f, ids, key, since, j, d)
            self._record(slots, month, col, counts, missed)

    def _window(self, slots: np.ndarray, end: int, months: int, column: int, mean: bool = False) -> np.ndarray:
        cols = (end - np.arange(months)) % self._ring
        v = self._counts[slots][:, cols, column].astype(np.float64)
        return v.mean(axis=1) if mean else v.sum(axis=1)

    # --- evidence and claims -----------------------------------------------------------------------
    def _evidence(self, f, t: float) -> None:
        s = self.spec
        n = f.n
        # Results are paid only for families whose datasets have shown the definition (eligible; seed 004).
        ids = np.flatnonzero(
            (f.attached[:n] == _ATTACHED) & (f.state[:n] != OUT) & (f.tf_slot[:n] >= 0) & np.isfinite(f.t_eligible[:n])
        )
        if not ids.size:
            return
        had, done, ta = f.attached_domains[ids], f.evidence[ids], f.t_attached[ids]
        slots = f.tf_slot[ids]
        month = self._recorded
        # With ``windows_after``, a window counts once it lies wholly after attachment; otherwise the last months at
        # the claim count whenever they began.
        first_after = np.ceil(ta * 12 - 1e-9).astype(np.int64) + 1  # the first month wholly after attachment
        ce = ((had & (CRIME | EDUCATION)) != 0) & ((done & CLAIM_CRIME_EDUCATION) == 0)
        ce_true = ce.copy()
        # Crime/ASB: the last six months the records show against the six before attachment.
        end = month - int(round(s.lag[0] * 12))
        months = int(round(s.evidence_years[0] * 12))
        if s.windows_after:
            ce &= ((had & CRIME) == 0) | (end - months + 1 >= first_after)
        for base, b, out in ((0, 0, ce_true), (4, 2, ce)):
            met = crime_asb_met(
                self._before[slots, b],
                self._window(slots, end, months, base + _ASB),
                self._before[slots, b + 1],
                self._window(slots, end, months, base + _OFF),
                s.asb_fall,
                s.offending_fall,
            )
            out &= ((had & CRIME) == 0) | met
        # Education: the last three terms the records show.
        end = month - int(round(s.lag[1] * 12))
        months = int(round(s.evidence_years[1] * 12))
        if s.windows_after:
            ce &= ((had & EDUCATION) == 0) | (end - months + 1 >= first_after)
        for base, out in ((0, ce_true), (4, ce)):
            met = education_met(
                self._window(slots, end, months, base + _EXC),
                self._window(slots, end, months, base + _ABS, mean=True),
                s.max_exclusions,
                s.max_absence,
            )
            out &= ((had & EDUCATION) == 0) | met
        # Employment: off benefits into continuous work for the weeks the adult's benefit needs, after attachment;
        # a lone parent's family that has since repartnered left benefits on its partner's work.
        workless = s.framework[2]
        weeks = self._weeks[slots].astype(np.float64)
        rec, true = self._clear(f, ids, workless, 2, t, weeks / 52.18)
        since = f.since[ids, workless].astype(np.float64)
        seen_to = t - s.lag[2]
        worked = employment_met(np.where(np.isfinite(since), (seen_to - since) * 52.18, 0.0), weeks)
        partner = self._lone[slots] & ~((f.factors[ids] >> s.lone_bit) & 1).astype(bool)
        emp = ((had & WORKLESS) != 0) & ((done & CLAIM_EMPLOYMENT) == 0) & ~partner & (since >= ta - s.lag[2])
        emp_true = emp & true & worked
        emp &= rec & worked
        for mask, true_, route in (
            (ce, ce_true, CLAIM_CRIME_EDUCATION),
            (emp, emp_true, CLAIM_EMPLOYMENT),
        ):
            if mask.any():
                rows = ids[mask]
                f.evidence[rows] |= np.uint8(route)
                f.evidence_true[rows] |= (true_[mask] * route).astype(np.uint8)

    def _esf(self, f, t: float) -> None:
        """ESF provision's places this month, to attached families still on out-of-work benefits in the records
        (in an order of their own): each earns the progress-to-work payment."""
        s = self.spec
        places = self._esf_carry + s.esf_per_month
        k = int(places)
        self._esf_carry = places - k
        if k <= 0:
            return
        n = f.n
        done = (f.evidence[:n] & (CLAIM_PROGRESS | CLAIM_EMPLOYMENT)) != 0
        ids = np.flatnonzero(
            (f.attached[:n] == _ATTACHED)
            & (f.state[:n] != OUT)
            & np.isfinite(f.t_eligible[:n])  # a payment by results, for eligible families only
            & ((f.attached_domains[:n] & WORKLESS) != 0)
            & ~done
        )
        if not ids.size:
            return
        ids = ids[self._flags(f, ids, t)[:, 2]]
        month = np.full(ids.size, int(round(t * 12)), np.uint64)
        order = np.argsort(_hash_unit(f.key[ids], month, _SALT_ESF, self.seed), kind="stable")
        rows = ids[order[:k]]
        f.evidence[rows] |= np.uint8(CLAIM_PROGRESS)
        true = ((f.problems[rows] >> s.framework[2]) & 1).astype(bool)
        f.evidence_true[rows] |= (true * CLAIM_PROGRESS).astype(np.uint8)

    def claim(self, model, t: float) -> None:
        """A claim window at ``t``: every evidenced result not yet claimed, one of each kind per family."""
        f = model.families
        self._count(f, t)  # the month just ended counts (the month's own work, later at ``t``, finds it done)
        self._evidence(f, t)
        n = f.n
        ids = np.flatnonzero((f.attached[:n] == _ATTACHED) & ((f.evidence[:n] & ~f.claimed[:n]) != 0))
        if not ids.size:
            return
        ev, done, true = f.evidence[ids], f.claimed[ids], f.evidence_true[ids]
        result_done = (done & (CLAIM_CRIME_EDUCATION | CLAIM_EMPLOYMENT)) != 0
        emp = ((ev & CLAIM_EMPLOYMENT) != 0) & ~result_done
        ce = ((ev & CLAIM_CRIME_EDUCATION) != 0) & ~result_done & ~emp
        progress = (
            ((ev & CLAIM_PROGRESS) != 0) & ((done & CLAIM_PROGRESS) == 0) & ~emp & ~((done & CLAIM_EMPLOYMENT) != 0)
        )
        for mask, route in ((emp, CLAIM_EMPLOYMENT), (ce, CLAIM_CRIME_EDUCATION), (progress, CLAIM_PROGRESS)):
            if not mask.any():
                continue
            rows = ids[mask]
            k = rows.size
            f.claimed[rows] |= np.uint8(route)
            keys = f.key[rows].copy()
            model.recorder.claims.append(
                (np.full(k, t), np.full(k, route, np.int8), f.attached_year[rows].copy(), keys)
            )
            self.claim_log.append(
                (
                    np.full(k, t),
                    f.council[rows].astype(np.int16),
                    np.full(k, route, np.int8),
                    (true[mask] & route) != 0,
                    keys,
                    f.attached_year[rows].copy(),
                )
            )

    # --- results -------------------------------------------------------------------------------------
    def results(self) -> dict:
        """The administration's logs as arrays (``flowsim.programme_2012`` turns them into tables)."""

        def cat(log, dtypes):
            if not log:
                return tuple(np.empty(0, d) for d in dtypes)
            return tuple(np.concatenate(col).astype(d) for col, d in zip(zip(*log, strict=True), dtypes, strict=True))

        return {
            "councils": self.spec.names,
            "allocation": self.spec.allocation.copy(),
            "allocation_published": self.spec.allocation_published.copy(),
            "identified": cat(self.identified_log, (float, np.int16, np.int32, bool)),
            "eligible_later": cat(self.eligible_log, (float, np.int16, np.int32)),
            "attached": cat(self.attached_log, (float, np.int16, np.int8, np.uint64, float)),
            "claims": cat(self.claim_log, (float, np.int16, np.int8, bool, np.uint64, np.int8)),
            "assured_t": self.assured_t.copy(),
            "assurance_t": self.spec.assurance_t,
            "year_one_share": self.spec.year_one_share,
            "assurance_share": self.spec.assurance_share,
        }
