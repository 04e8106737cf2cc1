"""An embedded Kubernetes API server emulation with Istio injection, for the demo and the tests."""
