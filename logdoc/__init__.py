"""logdoc: forensics for machine-learning training logs."""
__version__ = "0.1.0"
