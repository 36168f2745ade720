"""Developer measurements: the benchmark, the TF Lite example's loop as its yardstick, long runs, the overlay."""
