package ksefsim

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Weather: what production KSeF does that a well-behaved server does not. Users report 502/503/504
// with HTML bodies on every endpoint, the web application firewall answering 403 {"title":"Request
// blocked", … "incidentId"} even on /auth/token/refresh (CIRFMF/ksef-api #852, #617, #761), storage
// URLs answering an HTML challenge page instead of a UPO or an export part, and invoices that stay at
// 150 for hours and finish out of order (CIRFMF/ksef-api #414).

// Fault kinds for KindFault.Kind.
const (
	FaultHTML5xx = "html5xx" // 502/503/504 with an HTML body (a load balancer's page)
	FaultWAF403  = "waf403"  // 403 with the firewall's JSON body and an incident number
	// FaultStorageHTML answers a storage request with a 200 text/html challenge page: a download
	// gets the page instead of a UPO or an export part, and a batch part upload (PUT) is not stored
	// although the answer is 2xx. Storage answers a stored part with 201 (open-api.json
	// OpenBatchSessionResponse.partUploadRequests: "201 – poprawne przyjęcie pliku"); the firewall
	// in front of it answers 200 with HTML and the part never arrives (CIRFMF/ksef-client-java #89:
	// "otrzymujemy odpowiedź HTML z kodem 200 … part został poprawnie przesłany, mimo że faktycznie
	// nie został"), so the close then fails with 21205.
	FaultStorageHTML = "storage-html"
	// FaultStorageCorrupt serves a storage download with one byte flipped: the right size, the wrong
	// hash (a damaged transfer, or a cache serving stale bytes). Its hashes must catch it.
	FaultStorageCorrupt = "storage-corrupt"
)

// GroupStorage selects storage URLs (UPO and export part downloads, batch part uploads) in
// KindFault.Groups; the other names are the §9 rate-limit groups ("auth", "invoiceSend", …).
const GroupStorage = "storage"

// KindFault answers a fraction Rate of the requests of Groups (all groups when empty) with Kind.
type KindFault struct {
	Kind   string   `json:"kind"`
	Rate   float64  `json:"rate"`
	Groups []string `json:"groups,omitempty"`
	// Count, when positive, ends the fault after it has hit Count requests (counted from SetFaults):
	// rate 1 and count 1 hit exactly the next request of its groups.
	Count int `json:"count,omitempty"`
}

func (k KindFault) applies(group string) bool {
	if len(k.Groups) == 0 {
		return true
	}
	for _, g := range k.Groups {
		if g == group || g == "*" {
			return true
		}
	}
	return false
}

// ParseKindFaults reads the `ksef-sync sim -faults` syntax: kind:rate[@group+group],…
// e.g. "html5xx:0.1,waf403:0.1@auth+invoiceSend,storage-html:0.1".
func ParseKindFaults(s string) ([]KindFault, error) {
	var out []KindFault
	for _, item := range splitList(s) {
		spec, groups, _ := strings.Cut(item, "@")
		kind, rateStr, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, fmt.Errorf("fault %q: want kind:rate[@group+group]", item)
		}
		switch kind {
		case FaultHTML5xx, FaultWAF403, FaultStorageHTML, FaultStorageCorrupt:
		default:
			return nil, fmt.Errorf("fault %q: unknown kind %q (want %s, %s, %s or %s)", item, kind, FaultHTML5xx, FaultWAF403, FaultStorageHTML, FaultStorageCorrupt)
		}
		rate, err := strconv.ParseFloat(rateStr, 64)
		if err != nil || rate < 0 || rate > 1 {
			return nil, fmt.Errorf("fault %q: rate must be between 0 and 1", item)
		}
		kf := KindFault{Kind: kind, Rate: rate}
		if groups != "" {
			kf.Groups = strings.Split(groups, "+")
		}
		out = append(out, kf)
	}
	return out, nil
}

// kindFault picks the fault (if any) that hits this request of group; storageGET says whether it
// is a storage download (storage-corrupt only hits those).
func (s *Server) kindFault(group string, storageGET bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.faults.Kinds {
		if k.Rate <= 0 || !k.applies(group) || (k.Count > 0 && s.kindHits[i] >= k.Count) {
			continue
		}
		if k.Kind == FaultStorageCorrupt && !storageGET {
			continue
		}
		if k.Kind == FaultStorageHTML && group != GroupStorage {
			continue
		}
		if mrand.Float64() < k.Rate {
			s.kindHits[i]++
			return k.Kind
		}
	}
	return ""
}

// writeWeather answers with a fault kind; it reports false when kind is empty.
func (s *Server) writeWeather(w http.ResponseWriter, kind string) bool {
	switch kind {
	case FaultHTML5xx:
		codes := []int{502, 503, 504}
		c := codes[mrand.IntN(len(codes))]
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(c)
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title><style>body{font-family:sans-serif}</style></head>"+
			"<body><h1>%d %s</h1><p>The server is temporarily unable to service your request.</p><hr><address>nginx</address></body></html>\n",
			c, http.StatusText(c), c, http.StatusText(c))
	case FaultWAF403:
		writeFirewall403(w, "127.0.0.1") // ip_block.go
	case FaultStorageHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Just a moment...</title><script>var c=1;</script></head>"+
			"<body><noscript>Enable JavaScript and cookies to continue</noscript><div id=\"challenge\"></div></body></html>\n")
	default:
		return false
	}
	s.mu.Lock()
	s.st.Counters.Weather++
	s.mu.Unlock()
	return true
}

// DelayDist is a distribution of processing times. Zero value: the fixed Options.ProcessingDelay.
type DelayDist struct {
	Kind   string        `json:"kind"` // "lognormal" or "" (fixed)
	Median time.Duration `json:"median"`
	P99    time.Duration `json:"p99"`
}

// ParseDelayDist reads "lognormal:median,p99" (e.g. "lognormal:500ms,20s"); "" or "fixed" means the
// fixed delay.
func ParseDelayDist(s string) (DelayDist, error) {
	if s == "" || s == "fixed" {
		return DelayDist{}, nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || kind != "lognormal" {
		return DelayDist{}, fmt.Errorf("delay distribution %q: want lognormal:median,p99", s)
	}
	a, b, ok := strings.Cut(rest, ",")
	med, err1 := time.ParseDuration(strings.TrimSpace(a))
	p99, err2 := time.ParseDuration(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || med <= 0 || p99 < med {
		return DelayDist{}, fmt.Errorf("delay distribution %q: want lognormal:median,p99 with 0 < median <= p99", s)
	}
	return DelayDist{Kind: "lognormal", Median: med, P99: p99}, nil
}

func (d DelayDist) String() string {
	if d.Kind == "" {
		return "fixed"
	}
	return fmt.Sprintf("%s:%s,%s", d.Kind, d.Median, d.P99)
}

// z99 is the standard normal's 99th percentile: p99 = median·e^(σ·z99).
const z99 = 2.326347874

// sample draws one processing time. A lognormal has the long tail production shows: most invoices
// finish near the median, a few take many times longer, so completions come out of order.
func (d DelayDist) sample(fixed time.Duration) time.Duration {
	if d.Kind != "lognormal" {
		return fixed
	}
	sigma := math.Log(float64(d.P99)/float64(d.Median)) / z99
	v := float64(d.Median) * math.Exp(sigma*mrand.NormFloat64())
	// cap far beyond p99 so a test never waits for ever on one draw
	return time.Duration(math.Min(v, 4*float64(d.P99)))
}

// SetDelayDist changes the processing-time distribution for invoices and sessions from now on.
func (s *Server) SetDelayDist(d DelayDist) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delayDist = d
}

// drawDelayLocked is a batch session's processing time (0: the fixed delay); callers hold s.mu.
func (s *Server) drawDelayLocked() time.Duration {
	if s.delayDist.Kind == "" {
		return 0
	}
	return max(s.delayDist.sample(0), time.Millisecond)
}

// drawStepLocked is an online invoice's step: 100 for a step, 150 for another, so the whole
// processing time follows the distribution (0: the fixed delay); callers hold s.mu.
func (s *Server) drawStepLocked() time.Duration {
	if s.delayDist.Kind == "" {
		return 0
	}
	return max(s.delayDist.sample(0)/2, time.Millisecond)
}

// invoiceDelay is an online invoice's processing step.
func (s *Server) invoiceDelay(inv *invoice) time.Duration {
	if inv.Delay > 0 {
		return inv.Delay
	}
	return s.opts.ProcessingDelay
}

// sessionDelay is a session's processing time after closing.
func (s *Server) sessionDelay(sess *session) time.Duration {
	if sess.Delay > 0 {
		return sess.Delay
	}
	return s.opts.ProcessingDelay
}

// PublishKey is the admin control for KSeF's public-key life cycle (bezpieczenstwo/
// klucze-publiczne-do-szyfrowania.md in CIRFMF/ksef-docs): a planned re-certification keeps the key
// and its publicKeyId and only issues a new certificate, which no 21470 announces; a rotation
// brings a new key and publicKeyId. Either way the old certificate may be expired.
type PublishKey struct {
	Usage string `json:"usage"` // KsefTokenEncryption | SymmetricKeyEncryption; "" = both
	// SameKey re-certifies the newest key of the usage (same publicKeyId); false makes a new key.
	SameKey bool `json:"sameKey"`
	// ExpireOldIn sets validTo of the usage's older certificates to now+ExpireOldIn (0: leave them).
	// A negative value expires them at once.
	ExpireOldIn time.Duration `json:"expireOldIn"`
	// ValidFor is the new certificate's validity (default 2 years).
	ValidFor time.Duration `json:"validFor"`
}

// PublishKey publishes a new certificate for a usage; see the type.
func (s *Server) PublishKey(p PublishKey) error {
	usages := []string{usageToken, usageSymmetric}
	switch p.Usage {
	case "":
	case usageToken, usageSymmetric:
		usages = []string{p.Usage}
	default:
		return fmt.Errorf("publish-key: unknown usage %q", p.Usage)
	}
	for _, u := range usages {
		if err := s.publishKey(u, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) publishKey(usage string, p PublishKey) error {
	now := s.now()
	s.mu.Lock()
	var newest *keyPair
	for _, k := range s.st.Keys {
		if k.Usage == usage && (newest == nil || k.ValidFrom.After(newest.ValidFrom)) {
			newest = k
		}
	}
	s.mu.Unlock()
	var fresh *keyPair
	var err error
	after := time.Time{}
	if newest != nil {
		after = newest.ValidFrom // the new certificate must win "latest validFrom"
	}
	if p.SameKey && newest != nil {
		fresh, err = recertify(newest, now, after, p.ValidFor)
	} else {
		fresh, err = generateKeyPair(usage, now)
		if err == nil {
			fresh, err = recertify(fresh, now, after, p.ValidFor)
		}
	}
	if err != nil {
		return fmt.Errorf("publish-key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ExpireOldIn != 0 {
		until := now.Add(p.ExpireOldIn).UTC().Truncate(time.Millisecond)
		for _, k := range s.st.Keys {
			if k.Usage == usage && k.ValidTo.After(until) {
				k.ValidTo = until
			}
		}
	}
	s.st.Keys = append(s.st.Keys, fresh)
	s.markDirty()
	s.log.Info("public key published", "usage", usage, "same_key", p.SameKey, "public_key_id", fresh.publicKeyID(), "valid_from", fresh.ValidFrom)
	return nil
}

// serveCorrupted serves a storage download with its first body byte flipped, same length.
func (s *Server) serveCorrupted(next http.Handler, w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.st.Counters.Weather++
	s.mu.Unlock()
	next.ServeHTTP(&flipFirstByte{ResponseWriter: w}, r)
}

type flipFirstByte struct {
	http.ResponseWriter
	done bool
}

func (f *flipFirstByte) Write(b []byte) (int, error) {
	if !f.done && len(b) > 0 {
		f.done = true
		c := append([]byte{b[0] ^ 0x20}, b[1:]...)
		return f.ResponseWriter.Write(c)
	}
	return f.ResponseWriter.Write(b)
}
