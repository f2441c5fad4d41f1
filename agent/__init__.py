"""The loop: planner, executor, recovery, session, engines."""
