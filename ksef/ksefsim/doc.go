// Package ksefsim is a KSeF 2.0 simulator: an independent implementation of the Ministry of
// Finance's e-invoicing API (open-api.json 2.6.0, embedded with its MIT notice in
// LICENSE-ksef-docs.txt) served over real HTTP, used by tests, benchmarks and the demo.
//
// Every /v2 request is validated against the official spec with kin-openapi; a non-conforming
// request gets HTTP 400 with exception code 21405 and is counted in Stats.SpecViolations. With
// Options.CheckResponses (tests: simtest.Start sets it) every answer is validated against the
// response the spec documents too, and a wrong one is counted there (Stats.AnswerViolations).
// Crypto (RSA-OAEP SHA-256 key wrapping, AES-256-CBC/PKCS#7 content), reference and KSeF numbers
// (CRC-8), the asynchronous state machines, duplicates (440), UPO v4-3, batch archives (Zip,
// TarGz), exports with HWM and truncation, and the §9 rate limits (429 + Retry-After) behave as
// KSeF does. Time comes from Options.Now, so tests drive it without sleeping.
//
// Layout: the API lives under /v2, pre-signed storage URLs (batch part upload, UPO and export part
// download; no bearer token, not rate limited, 403 when expired) under /storage, and the admin
// API under /admin.
//
// Admin API (loopback clients only; others get 403):
//
//	GET  /admin/stats                      Stats as JSON
//	POST /admin/faults                     body: Faults as JSON (replaces the current faults)
//	POST /admin/seed                       body: JSON array of SeedInvoice (RFC 3339 times) → []SeededInvoice
//	POST /admin/tokens                     body: {"nip": "..."} → {"nip": "...", "token": "..."}
//	POST /admin/rotate-keys?emergency=true new MF key pairs; emergency drops the old ones (old publicKeyId → 400 21470)
//	POST /admin/export-truncate?n=300      max invoices per export package
//	POST /admin/publish-key                body: PublishKey, e.g. {"usage": "SymmetricKeyEncryption", "sameKey": true,
//	                                       "expireOldIn": 60000000000} (a re-certification; durations in nanoseconds)
//	POST /admin/delay-dist                 body: {"dist": "lognormal:500ms,20s"} (long-tailed, out-of-order processing)
//	POST /admin/other-tool                 body: OtherToolInvoice {"xml": "<Base64>", "contextNip": "..."} → RegisteredInvoice:
//	                                       the invoice registered by another tool in its own context (later copies get 440)
//	POST /admin/lose-answers?op=openBatch|startExport|redeem|authInit&n=1&how=drop
//	                                       the next n successful openBatch (POST /sessions/batch), startExport
//	                                       (POST /invoices/exports), redeem (POST /auth/token/redeem) or authInit
//	                                       (POST /auth/ksef-token, /auth/xades-signature) take effect, then lose
//	                                       their answer (how: drop | 504)
//	POST /admin/firewall/block-ip          body: {"minutes": 5, "ip": "127.0.0.1"} (ip: default the caller's): every /v2
//	                                       request from the address gets the firewall's 403 for that long (ip_block.go);
//	                                       GET answers IPBlockStatus, with the count of requests refused
//
// The fault controls under /admin/exports/ (export_faults.go), /admin/batches/, /admin/invoices/,
// /admin/logins/ (status_faults.go), /admin/ratelimit/ (ratelimit_fault.go) and /admin/latarnia
// (latarnia.go) are listed with their bodies in the admin table of docs/simulator.md, the one
// complete list.
//
// JSON bodies use the Go field names of Stats, Faults and SeedInvoice (e.g. {"Outage": true},
// {"ErrorRate": 0.1, "OnlyPaths": ["/invoices"]}; SlowDelay is in nanoseconds). Faults apply to
// /v2 and /storage, never to /admin. Production weather (weather.go) is Faults.Kinds:
// {"Kinds": [{"kind": "html5xx", "rate": 0.1}, {"kind": "waf403", "rate": 0.1, "groups": ["auth"]},
// {"kind": "storage-html", "rate": 0.1}, {"kind": "storage-corrupt", "rate": 0.1}]} (storage-html: a
// challenge page instead of a UPO or export part, and a 200 challenge page that stores nothing for a
// batch part upload; storage-corrupt: one byte flipped, same size; "count": stop after that many
// hits), groups being §9 rate-limit groups or "storage"; the same
// from the command line: ksef-sync sim -faults "html5xx:0.1,waf403:0.1@auth,storage-html:0.1"
// -delay-dist lognormal:500ms,20s.
//
// Persistence (Options.StateDir): a gob snapshot of the mutable state (written atomically, at most
// every 100 ms after a change, and on Close), an append-only JSON-lines journal of invoice
// records (immutable once created; the duplicate/KSeF-number/retrieval indexes are rebuilt from
// it on load) and one append-only pack of payloads (invoice XML, batch parts, export parts).
package ksefsim
