"""What findings mean together: diagnosis chains, expectations, comparing two runs."""
