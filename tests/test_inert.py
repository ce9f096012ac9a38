"""No parameter is accepted and ignored.

Every key the registry offers is read by the model that runs (a simulation and its summaries), unless its switch is
off (:func:`flowsim.scenario.scenario.switch_of`), and a scenario that sets a key with its switch off is refused.
Reading is what is checked: a key read and then ignored would pass, but every key the ladder left behind (issue 31:
``population.initial_stock``, ``dynamics.entry_rate_per_year``, ``programmes.key_worker.p_success``) was never read.
"""

from __future__ import annotations

import pytest

from flowsim import replications
from flowsim.scenario import load_scenario, models
from flowsim.scenario.registry import PARAMETERS
from flowsim.scenario.scenario import switch_of, switched_on

from .conftest import BASELINE, SCENARIOS, assert_user_error, invoke

#: Tiny runs long enough for every mechanism to be reached: the 2012 programme pays results from 2013.
CASES = {
    BASELINE: ["population.scale=0.004"],
    SCENARIOS / "tf_programme_2012.toml": ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"],
}


def _paths(model, prefix: str = "") -> dict[tuple[str, str], str]:
    """(model class name, field) -> the registry's dotted key, for every leaf of the parameters model."""
    out = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, models._Section):
            out.update(_paths(ann, f"{prefix}{name}."))
        else:
            out[(model.__name__, name)] = prefix + name
    return out


@pytest.fixture
def reads(monkeypatch):
    """The set of (model class, field) read while the block runs: by attribute, or by iterating a whole table."""
    seen: set[tuple[str, str]] = set()
    get, it = models._Section.__getattribute__, models._Section.__iter__

    def getattribute(self, name):
        value = get(self, name)
        if name in type(self).model_fields:
            seen.add((type(self).__name__, name))
        return value

    def iterate(self):
        seen.update((type(self).__name__, k) for k in type(self).model_fields)
        return it(self)

    monkeypatch.setattr(models._Section, "__getattribute__", getattribute)
    monkeypatch.setattr(models._Section, "__iter__", iterate)
    return seen


@pytest.mark.parametrize("path", list(CASES), ids=lambda p: p.stem)
def test_every_key_acts_unless_its_switch_is_off(path, reads):
    """Seed 1, one replication of each case: the keys never read are exactly those whose switch is off."""
    scenario = load_scenario(path, CASES[path])
    reads.clear()  # loading validates every key; only what the run reads counts
    replications.run_replication(scenario, 1)
    keys = _paths(models.parameters_model())
    read = {keys[r] for r in reads if r in keys}
    unread = sorted(k for k in PARAMETERS if k not in read)
    inert = [k for k in unread if all(switched_on(scenario.params, s) for s in switch_of(k))]
    assert not inert, f"accepted and ignored by {path.name}: {inert}"
    assert len(read) > 300  # the tracker saw the run: a broken one would find everything unread and fail above


def test_a_key_set_with_its_switch_off_is_refused(tmp_path):
    """Before: programmes.iapt.staff with IAPT off, or payment-by-results money with finance off, ran unchanged."""
    line = assert_user_error(
        invoke("validate", BASELINE, "--set", "programmes.iapt.staff=[[2011-04-01, 5]]"),
        "key programmes.iapt.staff",
        "programmes.iapt.enabled = true",
    )
    assert "would ignore" in line
    assert_user_error(invoke("validate", BASELINE, "--set", "finance.funded_share=0.5"), "finance.enabled = true")
    # A number that switches a key on is said as one (before: "set population.pilot_years = true").
    assert_user_error(
        invoke("validate", BASELINE, "--set", "population.pilot_years=0", "--set", "population.pilot_share=0.2"),
        "expected population.pilot_years above 0 for this key to act, found 0",
    )
    # Switched on in the same place, the key acts and is accepted.
    on = ["--set", "finance.enabled=true", "--set", "finance.funded_share=0.5"]
    assert invoke("validate", BASELINE, *on).exit_code == 0
    # A file that sets a key and switches its section off in the same table is refused, naming its line.
    own = tmp_path / "own.toml"
    own.write_text(f'extends = "{BASELINE}"\n[programmes.key_worker]\nenabled = false\ncaseload = 9\n')
    assert_user_error(invoke("validate", own), f"{own}, line 4, key programmes.key_worker.caseload")
    # A child that switches off a programme its parent sized is choosing to, not ignoring a key.
    assert invoke("validate", SCENARIOS / "no_early_intervention.toml").exit_code == 0
