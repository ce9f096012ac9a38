"""Scenario files: loading, inheritance, overrides, the parameter registry and the picklable Scenario."""

from flowsim.scenario.loader import load_scenario, parse_override
from flowsim.scenario.registry import PARAMETERS, Param
from flowsim.scenario.scenario import Scenario

__all__ = ["PARAMETERS", "Param", "Scenario", "load_scenario", "parse_override"]
