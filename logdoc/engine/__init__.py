"""The engine that feeds batches to rules, one session per input; analyze, watch and scan over it."""
