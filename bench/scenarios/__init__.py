"""One module per scenario; each `run(ctx)` returns result rows (bench.stats.Result)."""
