"""Benchmarks that ship with the product: `parrot bench NAME`."""
