"""One planner per action: typed parameters in, a printable plan of exact API operations out.

`registry.PLANNERS` maps each `ActionId` to its planner; `common` holds what several planners share.
"""
