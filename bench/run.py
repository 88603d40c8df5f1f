"""Benchmark the rule on the AWS double: python bench/run.py [--quick] (see heartbleed_tools/benchmark.py)."""

from bench.benchmark import main

if __name__ == "__main__":
    main()
