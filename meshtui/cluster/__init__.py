"""Cluster layer: kubeconfig, reflectors (list-then-watch), and mutations."""
