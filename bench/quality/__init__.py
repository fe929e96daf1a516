"""Decision-quality benchmark: every judge on the same simulated canaries, judged at every look.

    python -m bench.quality --quick      # a sample of the grid, under 5 minutes on 2 cores
    python -m bench.quality --full       # the whole grid, >= 2,000 A/A and 500 A/B runs per cell (hours)
"""
