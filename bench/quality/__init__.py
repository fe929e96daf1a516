"""Decision-quality benchmark: every judge on the same simulated canaries, judged at every look.

    python -m bench.quality --quick --runs-aa 500   # a sample of both worlds, about 10 minutes on 2 cores
    python -m bench.quality --acceptance            # exactly issue 11's acceptance cells, 500 A/A runs each
    python -m bench.quality --full                  # the whole grid, >= 2,000 A/A and 500 A/B runs per cell (hours)

Add ``--out DIR`` to write the Markdown, CSV and plots somewhere other than ``docs/``.
"""
