"""Side-by-side timings of anynet and its peers. Programs that measure and print; not tests.

    python -m benchmarks                 # everything that can run here
    python -m benchmarks --only mlp,overhead --repeats 5 --out docs/benchmarks
"""
