"""Pure Istio semantics: inventory, revisions, injection, gates. No I/O, no clock, no Textual."""
