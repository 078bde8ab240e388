package metrics

// Rate-limit metrics.
var (
	// RateLimited counts requests refused with 429 rate_limited, by endpoint
	// (login, reauthenticate, refresh, register). Every refused request
	// counts, while the security log gets one rate_limited event per key and
	// window (RL-06).
	RateLimited = counterVec("authd_rate_limited_total", "Requests refused with 429 rate_limited, by endpoint.", "endpoint")
	// RateLimitFallback counts limiter decisions taken by the in-process
	// store because the shared Redis store did not answer in time: while it
	// grows, limits hold per instance only.
	RateLimitFallback = counter("authd_ratelimit_store_fallback_total", "Rate-limit decisions taken by the in-process store because Redis did not answer.")
	// RateLimitDegraded is 1 while the rate limiter runs on its in-process
	// fallback store, 0 while it uses Redis (or has no Redis configured).
	RateLimitDegraded = gauge("authd_ratelimit_store_degraded", "1 while rate limits fall back to the in-process store.")
)
