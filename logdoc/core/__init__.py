"""The model of a log: records, metrics, findings; the metric vocabulary; batches and their columns; configuration."""
