"""The shared conformance suite: every test runs on every backend and device."""
