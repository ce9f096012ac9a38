"""Scenario files: loading, inheritance, overrides and the parameter registry."""

from flowsim.scenario.loader import Scenario, load_scenario, parse_override
from flowsim.scenario.registry import PARAMETERS, Param

__all__ = ["PARAMETERS", "Param", "Scenario", "load_scenario", "parse_override"]
