"""Scenario files: the drill written down, validated into `Scenario` (see model.py)."""

from drills.scenario.loader import find_scenario, load_scenario, load_scenario_text
from drills.scenario.model import Scenario, Stage, Step, json_schema

__all__ = ["Scenario", "Stage", "Step", "find_scenario", "json_schema", "load_scenario", "load_scenario_text"]
