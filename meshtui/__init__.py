"""meshtui: a keyboard-driven terminal dashboard for canary Istio control-plane upgrades."""

__version__ = "0.1.0"
