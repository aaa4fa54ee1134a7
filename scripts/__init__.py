"""Developer scripts: corpus generation, evaluation and benchmarks (importable by tests)."""
