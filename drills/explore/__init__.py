"""`drills explore`: property-based search over fault schedules (Hypothesis), with shrinking.

space      the search space file (validated like a scenario)
schedule   a drawn schedule and the plain scenario that runs it
strategies Hypothesis strategies drawing schedules from a space
explorer   the search: each example an ordinary drill on one shared topology; shrink; replay
commands   the CLI
"""
