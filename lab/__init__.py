"""Fault lab: tiny real training runs with injected faults (issue 16)."""
