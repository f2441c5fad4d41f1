"""Task suites, runner, metrics, benchmarks."""
