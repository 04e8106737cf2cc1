"""The upgrade engine: phases, plans, executor, lock and journal."""
