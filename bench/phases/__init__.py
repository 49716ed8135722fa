"""The benchmark's phases, one module each: a function `(stack, options) -> results`."""
