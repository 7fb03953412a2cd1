# Turns the output of the end-to-end benchmarks (cmd/ksef-sync, -benchtime 1x) into the one table
# `make bench` prints and README's performance section shows. Benchmarks that did not run show "—".
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) m[name, $(i + 1)] = $i
}
function v(name, unit, fmt) {
	if ((name, unit) in m) return sprintf(fmt, m[name, unit])
	return "—"
}
function burst(name) {
	return v(name, "s-all-outputs", "%.1f s") ", peak RSS " v(name, "peak-RSS-MB", "%.0f MB") ", " \
		v(name, "429s", "%d") " × 429, daemon CPU " v(name, "daemon-cpu-s", "%.1f s")
}
END {
	print ""
	print "| Measurement (default configuration, simulator over loopback) | Result |"
	print "|---|---|"
	print "| One invoice renamed into a local outbox → `.ksef.json` in sent/ (simulator delay 0) | p50 " \
		v("BenchmarkOnlineLatency", "rename-p50-ms", "%.0f ms") ", p90 " v("BenchmarkOnlineLatency", "rename-p90-ms", "%.0f ms") " |"
	print "| One invoice written in place in a local outbox → `.ksef.json` | p50 " \
		v("BenchmarkOnlineLatency", "inplace-p50-ms", "%.0f ms") ", p90 " v("BenchmarkOnlineLatency", "inplace-p90-ms", "%.0f ms") " |"
	print "| 1,000 invoices dropped at once, production rate limits: all outputs | " burst("BenchmarkBurst1000") " |"
	print "| 10,000 invoices dropped at once, production rate limits: all outputs | " burst("BenchmarkBurst10000") " |"
	print "| Pull of 10,000 received invoices in one package | " v("BenchmarkPull10000", "s-wall", "%.1f s") \
		", peak RSS " v("BenchmarkPull10000", "peak-RSS-MB", "%.0f MB") " |"
	print "| 100 companies × 20 invoices dropped at once (one daemon, office certificate): all outputs | " burst("BenchmarkCompanies100x20") " |"
	print "| 400 configured idle companies: one idle minute | RSS " v("BenchmarkIdle400", "RSS-MB", "%.0f MB") \
		" (peak " v("BenchmarkIdle400", "peak-RSS-MB", "%.0f MB") "), CPU " v("BenchmarkIdle400", "idle-cpu-s-per-min", "%.1f s") " per minute |"
}
