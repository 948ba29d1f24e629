"""Pattern files and the parsers: line by line, in bulk, and columnar (NumPy) for big blocks."""
