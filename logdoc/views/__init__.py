"""Tables, the overview and the metric catalogue a person reads."""
