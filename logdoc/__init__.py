"""logdoc: forensics for machine-learning training logs.

Public API (imported lazily so `import logdoc` stays cheap for the CLI):
    logdoc.parse(path) -> Run      findings, diagnoses and pandas tables of one log
    logdoc.diagnose(run) -> list   the root causes
"""
__version__ = "0.1.0"

__all__ = ["Run", "__version__", "diagnose", "parse"]


def __getattr__(name):
    if name in ("parse", "diagnose", "Run"):
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module 'logdoc' has no attribute {name!r}")
