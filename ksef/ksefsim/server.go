package ksefsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// Options configure a simulator; zero values take the documented defaults.
type Options struct {
	Tokens           []TokenGrant  // pre-registered KSeF tokens; empty → New generates one for DefaultNIP
	DefaultNIP       string        // default "5265877635"
	ProcessingDelay  time.Duration // delay of each asynchronous step; 0 = immediate
	DelayDist        DelayDist     // when set, each invoice/batch draws its processing time from it
	RateLimits       string        // "production" (default) | "off" | "scaled"
	RateScale        float64       // with "scaled": multiply every limit by this
	ExportTruncateAt int           // max invoices per export package (default 10000)
	ExportPartSize   int64         // max plaintext bytes per export part (default 50_000_000)
	ExportPartURLTTL time.Duration // life of an export part's link from the status read (default 1h)
	HWMLag           time.Duration // permanentStorageHwmDate = now - HWMLag (default 2m)
	// StorageLag is how much longer an accepted invoice takes to be stored for good
	// (permanentStorageDate) after its KSeF number is shown; until then it cannot be downloaded
	// by number (21165). Default 0: stored within the processing time.
	StorageLag         time.Duration
	UPOURLTTL          time.Duration // validity of pre-signed storage URLs (default 72h)
	StateDir           string        // "" = memory only; else state persists there
	Now                func() time.Time
	TrustAnySelfSigned bool // XAdES: accept any self-signed certificate carrying the context NIP
	TrustedCerts       map[string][]*x509.Certificate
	// Grants lets the credentials of an owner NIP act in other contexts: owner → context NIPs
	// (an accounting office's clients), each "CLIENT_NIP" (InvoiceWrite and InvoiceRead) or
	// "CLIENT_NIP:InvoiceRead" (only the permissions named, joined by "+"; grants.go).
	Grants           map[string][]string
	AllowNonLoopback bool
	Logger           *slog.Logger
	// CheckResponses validates every API answer against open-api.json and counts a mismatch as a
	// spec violation (Stats), as requests are counted: our client and our simulator must not share
	// a misreading of what KSeF sends. It costs CPU, so only tests turn it on (simtest.Start does).
	CheckResponses bool
	// IPBlock blocks a client IP at KSeF's firewall from the start (ip_block.go).
	IPBlock IPBlock

	// trustAnySet tells New that TrustAnySelfSigned was set explicitly (see WithoutSelfSigned).
	trustAnySet bool
}

// WithoutSelfSigned returns o with TrustAnySelfSigned explicitly false. A plain Options{} leaves
// TrustAnySelfSigned at its default true, because the zero value cannot express "unset".
func (o Options) WithoutSelfSigned() Options {
	o.TrustAnySelfSigned = false
	o.trustAnySet = true
	return o
}

// TokenGrant is a KSeF token valid for the context NIP.
type TokenGrant struct{ NIP, Token string }

// Faults injects failures into API and storage requests.
type Faults struct {
	ErrorRate float64       // fraction of requests answered 500/502/503
	DropRate  float64       // fraction of requests whose connection is closed without a response
	SlowRate  float64       // fraction of requests delayed by SlowDelay
	SlowDelay time.Duration //
	Outage    bool          // 503 everywhere until cleared
	OnlyPaths []string      // restrict faults to paths containing any of these substrings
	// Kinds are production weather by endpoint group (see KindFault); OnlyPaths does not apply.
	Kinds []KindFault `json:",omitempty"`
}

// Stats are the simulator's counters; the state snapshot keeps them in this very form.
type Stats struct {
	Requests             map[string]int
	RateLimited          int
	SpecViolations       int
	SpecViolationDetails []string
	DuplicateSubmissions int
	Duplicates440        int
	Accepted             []AcceptedInvoice
	Weather              int // answers replaced by a Faults.Kinds fault
	LostAnswers          int // requests carried out whose answer was then lost (LoseAnswers)
	LoginsStarted        int // authentication operations started (answered 202)
	// BatchSessions summarises every batch session, oldest first: which carried invoices.
	BatchSessions []BatchSessionSummary
}

// BatchSessionSummary is one batch session as the simulator saw it.
type BatchSessionSummary struct {
	Ref, NIP      string
	Parts         int // declared
	PartsUploaded int
	Closed        bool
	Invoices      int // invoices processed in it
}

// AcceptedInvoice is one invoice that received a KSeF number through a session.
type AcceptedInvoice struct {
	KsefNumber, InvoiceHash, InvoiceNumber, SellerNIP, SessionReferenceNumber, InvoiceReferenceNumber, Mode string
	Offline                                                                                                 bool   // sent with offlineMode true
	HashOfCorrectedInvoice                                                                                  string // a technical correction: the rejected invoice it is linked to
}

// Server is a KSeF 2.0 simulator.
type Server struct {
	opts   Options
	log    *slog.Logger
	limits map[string]rateLimit

	mu sync.Mutex
	st *state
	// saveMu makes snapshots one at a time: the background saver, Close and a test may save at
	// once, and two renames onto one file race (Windows refuses the second with "Access denied";
	// anywhere, an older snapshot could land after a newer one).
	saveMu    sync.Mutex
	blobs     *blobStore
	journal   *os.File
	limiter   limiter
	faults    Faults
	kindHits  []int // requests each of faults.Kinds has hit since SetFaults (KindFault.Count)
	truncate  int
	delayDist DelayDist
	latarnia  latarnia    // the status service; see latarnia.go
	lost      lostAnswers // answers to lose after the work is done; see lost_answers.go
	ipBlock   ipBlock     // a client IP the firewall refuses; see ip_block.go

	dirty    chan struct{}
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	jobs     sync.WaitGroup // batch processing and export building; tests wait on it
	saveErr  error

	httpSrv *http.Server
	ln      net.Listener
	handler http.Handler
	closed  bool

	exportFaults exportFaults // guarded by mu; see export_faults.go
	statusFaults statusFaults // guarded by mu; see status_faults.go
	// ctxLimits are session limits a context set for itself (context_limits.go), by NIP; guarded
	// by mu. Not kept in the state file: a restart goes back to the defaults.
	ctxLimits map[string]contextLimits
	// selfBilling holds "seller|buyer" for each SelfInvoicing permission a seller granted
	// (self_billing.go); guarded by mu, not kept across a restart.
	selfBilling map[string]bool
	ctxRates    map[string]rateTable // rate tables contexts set for themselves (ratelimit_testdata.go); guarded by mu
	// attachmentsEnd is when each NIP's consent to send attachments ends (attachments.go); guarded by mu.
	attachmentsEnd map[string]time.Time
	// rateFaults are blocks armed by RateLimitNext, by group; guarded by mu.
	rateFaults map[string]time.Duration
}

// New builds a simulator, restoring state from opts.StateDir when present.
func New(opts Options) (*Server, error) {
	if opts.DefaultNIP == "" {
		opts.DefaultNIP = "5265877635"
	}
	if opts.RateLimits == "" {
		opts.RateLimits = "production"
	}
	switch opts.RateLimits {
	case "production", "off", "scaled":
	default:
		return nil, fmt.Errorf("ksefsim: unknown rate-limit mode %q", opts.RateLimits)
	}
	if opts.ExportTruncateAt <= 0 {
		opts.ExportTruncateAt = 10000
	}
	if opts.ExportPartSize <= 0 {
		opts.ExportPartSize = 50_000_000
	}
	if opts.HWMLag == 0 {
		opts.HWMLag = 2 * time.Minute
	}
	if opts.UPOURLTTL <= 0 {
		opts.UPOURLTTL = 72 * time.Hour
	}
	// KSeF makes an export part's link when the export status is read, and it dies about an hour
	// later: open-api.json InvoicePackagePart.url "Link jest generowany dynamicznie w momencie
	// odpytania o status operacji eksportu", expirationDate "Po upływie tego momentu link przestaje
	// być aktywny"; the spec's example and CIRFMF/ksef-api #816, #817, #821 all show 1 h.
	if opts.ExportPartURLTTL <= 0 {
		opts.ExportPartURLTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if !opts.trustAnySet && !opts.TrustAnySelfSigned {
		opts.TrustAnySelfSigned = true
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := loadSpec(); err != nil {
		return nil, fmt.Errorf("ksefsim: %w", err)
	}
	s := &Server{
		opts:      opts,
		log:       log.With("component", "ksefsim"),
		limits:    effectiveLimits(opts.RateLimits, opts.RateScale),
		limiter:   limiter{hits: map[string][]time.Time{}},
		truncate:  opts.ExportTruncateAt,
		delayDist: opts.DelayDist,
		dirty:     make(chan struct{}, 1),
	}
	if err := s.initState(); err != nil {
		return nil, err
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if opts.StateDir != "" {
		s.bg.Add(1)
		go s.saver()
	}
	s.BlockIP(opts.IPBlock)
	s.handler = s.buildMux()
	return s, nil
}

func (s *Server) initState() error {
	var st *state
	if dir := s.opts.StateDir; dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("ksefsim: state dir: %w", err)
		}
		loaded, err := loadState(dir)
		if err != nil {
			return fmt.Errorf("ksefsim: %w", err)
		}
		st = loaded
	}
	blobs, err := openBlobStore(s.opts.StateDir)
	if err != nil {
		return fmt.Errorf("ksefsim: %w", err)
	}
	s.blobs = blobs
	if st == nil {
		st = newState()
		st.Secret = make([]byte, 32)
		if _, err := rand.Read(st.Secret); err != nil {
			return fmt.Errorf("ksefsim: secret: %w", err)
		}
		now := s.now()
		for _, usage := range []string{usageToken, usageSymmetric} {
			k, err := generateKeyPair(usage, now)
			if err != nil {
				return fmt.Errorf("ksefsim: %w", err)
			}
			st.Keys = append(st.Keys, k)
		}
	}
	s.st = st
	if s.opts.StateDir != "" {
		if err := s.openJournal(s.opts.StateDir); err != nil {
			return fmt.Errorf("ksefsim: %w", err)
		}
	}
	for _, g := range s.opts.Tokens {
		s.addTokenLocked(g.NIP, g.Token)
	}
	if err := s.grantOptionsLocked(); err != nil { // grants.go
		return err
	}
	if len(st.Tokens) == 0 {
		s.tokenLocked(s.opts.DefaultNIP)
	}
	return nil
}

func (s *Server) now() time.Time { return s.opts.Now() }

// markDirty asks the saver to snapshot soon; callers hold s.mu.
func (s *Server) markDirty() {
	if s.opts.StateDir == "" {
		return
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// saver snapshots the state at most every 100 ms while mutations keep arriving.
func (s *Server) saver() {
	defer s.bg.Done()
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-s.dirty:
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-s.bgCtx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.save(); err != nil {
			s.log.Error("persist state", "err", err)
		}
	}
}

func (s *Server) save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	data, err := encodeState(snapshotView(s.st))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// The snapshot refers to journal records and blobs: make those durable first.
	if err := s.blobs.sync(); err != nil {
		return fmt.Errorf("sync blobs: %w", err)
	}
	if err := s.journal.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return writeFileAtomic(s.opts.StateDir+string(os.PathSeparator)+snapshotName, data)
}

// Start listens on addr and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ksefsim: listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !s.opts.AllowNonLoopback {
		ln.Close()
		return fmt.Errorf("ksefsim: refusing to listen on non-loopback address %s (set AllowNonLoopback)", ln.Addr())
	}
	s.mu.Lock()
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	srv := s.httpSrv
	s.mu.Unlock()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	s.log.Info("simulator listening", "url", s.URL())
	return nil
}

// URL is the API base URL, e.g. "http://127.0.0.1:43211/v2".
func (s *Server) URL() string { return s.baseURL() + "/v2" }

// AdminURL is the admin base URL.
func (s *Server) AdminURL() string { return s.baseURL() + "/admin" }

func (s *Server) baseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Handler is the whole mux: API under /v2, storage under /storage, admin under /admin.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops serving, waits for background work and flushes persisted state.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.httpSrv
	s.mu.Unlock()
	var errs []error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		cancel()
	}
	s.bgCancel()
	s.bg.Wait()
	if s.opts.StateDir != "" {
		if err := s.save(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.blobs.close(); err != nil {
		errs = append(errs, err)
	}
	if s.journal != nil {
		if err := s.journal.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Token returns a valid KSeF token for nip, creating one if needed.
func (s *Server) Token(nip string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenLocked(nip)
}

func (s *Server) tokenLocked(nip string) string {
	for tok, n := range s.st.Tokens {
		if n == nip {
			return tok
		}
	}
	ref := newReferenceNumber(s.now(), "EC")
	tok := fmt.Sprintf("%s|nip-%s|%s", ref, nip, strings.ToLower(randomHex(32)))
	s.addTokenLocked(nip, tok)
	return tok
}

// AddToken registers token as valid for nip.
func (s *Server) AddToken(nip, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addTokenLocked(nip, token)
}

func (s *Server) addTokenLocked(nip, token string) {
	s.st.Tokens[token] = nip
	ref, _, _ := strings.Cut(token, "|")
	if len(ref) != 36 {
		ref = newReferenceNumber(s.now(), "EC")
	}
	s.st.TokenRefs[token] = ref
	s.markDirty()
}

// SetFaults replaces the fault configuration.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.kindHits = make([]int, len(f.Kinds))
}

// SetExportTruncateAt changes the maximum number of invoices per export package.
func (s *Server) SetExportTruncateAt(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.truncate = n
	}
}

// RotateKeys adds a new key pair per usage; emergency drops the old ones, so their publicKeyId fails with 21470.
func (s *Server) RotateKeys(emergency bool) {
	now := s.now()
	var fresh []*keyPair
	for _, usage := range []string{usageToken, usageSymmetric} {
		k, err := generateKeyPair(usage, now)
		if err != nil {
			s.log.Error("rotate keys", "err", err)
			return
		}
		fresh = append(fresh, k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if emergency {
		s.st.Keys = fresh
	} else {
		s.st.Keys = append(s.st.Keys, fresh...)
	}
	s.markDirty()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.Counters
	st.Requests = make(map[string]int, len(st.Requests))
	for k, v := range s.st.Counters.Requests {
		st.Requests[k] = v
	}
	st.SpecViolationDetails = append([]string(nil), st.SpecViolationDetails...)
	st.Accepted = append([]AcceptedInvoice(nil), st.Accepted...)
	for _, ref := range s.st.SessionList {
		if sess := s.st.Sessions[ref]; sess != nil && sess.Batch != nil {
			st.BatchSessions = append(st.BatchSessions, batchSummary(sess))
		}
	}
	return st
}

// ---- HTTP plumbing ----

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", s.serveAPI)
	mux.HandleFunc("/storage/", s.serveStorage)
	mux.HandleFunc("/admin/", s.serveAdmin)
	mux.HandleFunc("/admin/exports/", s.serveExportAdmin)       // export_faults.go
	mux.HandleFunc("/admin/invoices/", s.serveStatusFaultAdmin) // status_faults.go
	mux.HandleFunc("/admin/batches/", s.serveStatusFaultAdmin)
	mux.HandleFunc("/admin/logins/", s.serveStatusFaultAdmin)
	mux.HandleFunc("/admin/attachments", s.serveAttachmentAdmin)
	mux.HandleFunc("/admin/ratelimit/", s.serveRateLimitAdmin) // ratelimit_fault.go
	mux.HandleFunc("/admin/firewall/", s.serveFirewallAdmin)   // ip_block.go
	// The status service is another host: API faults never reach it (latarnia.go).
	return s.withLatarnia(s.withIPBlock(s.withFaults(s.withLostAnswers(mux))))
}

// withFaults applies the configured Faults to API and storage requests (never to /admin).
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/storage/") {
			// Downloads and part uploads alike: a challenge page answering a PUT stores nothing.
			kind := s.kindFault(GroupStorage, r.Method == http.MethodGet)
			if kind == FaultStorageCorrupt {
				s.serveCorrupted(next, w, r)
				return
			}
			if s.writeWeather(w, kind) {
				return
			}
		}
		s.mu.Lock()
		f := s.faults
		s.mu.Unlock()
		if len(f.OnlyPaths) > 0 && !containsAny(r.URL.Path, f.OnlyPaths) {
			next.ServeHTTP(w, r)
			return
		}
		if f.Outage {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		if f.DropRate > 0 && mrand.Float64() < f.DropRate {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
		if f.SlowRate > 0 && mrand.Float64() < f.SlowRate {
			select {
			case <-time.After(f.SlowDelay):
			case <-r.Context().Done():
				return
			}
		}
		if f.ErrorRate > 0 && mrand.Float64() < f.ErrorRate {
			codes := []int{500, 502, 503}
			c := codes[mrand.IntN(len(codes))]
			http.Error(w, http.StatusText(c), c)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// apiRequest is one decoded API call handed to an endpoint handler.
type apiRequest struct {
	r      *http.Request
	body   []byte
	tmpl   string
	params map[string]string
	now    time.Time
	bearer *bearer // resolved Authorization bearer, nil when absent/unknown
	token  string  // raw bearer string
	ip     string
}

const maxAPIBody = 20 << 20

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		writeException(w, r, 400, 21405, "cannot read request body", err.Error())
		return
	}
	if len(body) > maxAPIBody {
		writeException(w, r, 400, 21405, "request body too large")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if warn := r.Header.Get("X-Test-System-Warning"); warn != "" {
		// TEST behaviour (§13): echo the requested warning so clients can exercise their handling.
		w.Header().Set("X-System-Warning", warn)
	}
	route, params, verr := validateRequest(r)
	if errors.Is(verr, errPathNotInSpec) || route == nil {
		http.NotFound(w, r)
		return
	}
	tmpl := route.Path
	ar := &apiRequest{r: r, body: body, tmpl: tmpl, params: params, now: s.now(), ip: clientIP(r)}
	group := rateGroup(r.Method, tmpl)
	if s.writeWeather(w, s.kindFault(group, false)) {
		return // the firewall or the load balancer answered; KSeF never saw the request
	}
	if s.opts.CheckResponses {
		tw := &teeWriter{ResponseWriter: w}
		w = tw
		defer func() {
			if tw.status == 0 {
				tw.status = http.StatusOK // nothing written: net/http answers 200 with no body
			}
			if tw.status == http.StatusNotImplemented {
				return // an endpoint the simulator does not implement: the spec has no answer for it
			}
			if err := validateResponse(r, route, params, tw.status, tw.Header(), tw.body.Bytes()); err != nil {
				s.countViolation(r, answerViolation+strconv.Itoa(tw.status)+": "+compactError(err))
			}
		}()
	}
	s.mu.Lock()
	s.st.Counters.Requests[group]++
	ar.token, ar.bearer = s.lookupBearerLocked(r, ar.now)
	s.mu.Unlock()
	if verr != nil {
		var secErr *openapi3filter.SecurityRequirementsError
		if errors.As(verr, &secErr) {
			s.countViolation(r, "missing Bearer authorization")
			writeProblem(w, r, 401, "Unauthorized", "Missing Bearer token.")
			return
		}
		msg := compactError(verr)
		s.countViolation(r, msg)
		writeInvalid(w, r, msg)
		return
	}
	if !s.admitRate(w, r, group, ar) || !s.admitPermissions(w, ar) { // permissions.go
		return
	}
	h := s.route(r.Method, tmpl)
	if h == nil {
		writeException(w, r, http.StatusNotImplemented, 0, "endpoint not implemented by the simulator", r.Method+" "+tmpl)
		return
	}
	h(w, ar)
}

// answerViolation starts the detail of a spec violation in the simulator's own answer.
const answerViolation = "answer "

// AnswerViolations are the details of SpecViolationDetails that concern the simulator's answers
// (Options.CheckResponses), not its clients' requests.
func (st Stats) AnswerViolations() []string {
	var out []string
	for _, d := range st.SpecViolationDetails {
		if _, msg, ok := strings.Cut(d, ": "); ok && strings.HasPrefix(msg, answerViolation) {
			out = append(out, d)
		}
	}
	return out
}

// teeWriter passes an answer through and keeps a copy of its status and body for CheckResponses.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	t.body.Write(b)
	return t.ResponseWriter.Write(b)
}

func (s *Server) countViolation(r *http.Request, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.st.Counters
	c.SpecViolations++
	if len(c.SpecViolationDetails) < 100 {
		c.SpecViolationDetails = append(c.SpecViolationDetails, fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, msg))
	}
	s.markDirty()
	s.log.Warn("spec violation", "method", r.Method, "path", r.URL.Path, "problem", msg)
}

// compactError folds kin-openapi's multi-line message (which includes the schema) into one line.
func compactError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\nSchema:"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 400 {
		msg = msg[:400]
	}
	return msg
}

func (s *Server) admitRate(w http.ResponseWriter, r *http.Request, group string, ar *apiRequest) bool {
	if s.opts.RateLimits == "off" {
		return true
	}
	lim, ok := s.rateLimitFor(ar, group) // the caller context's table (ratelimit_testdata.go)
	if !ok {
		return true
	}
	// §9: unauthenticated requests (and the auth group) are counted per IP, the rest per context;
	// every endpoint of the "other" group has its own counter.
	key := group + "|ip:" + ar.ip
	if group != "auth" && ar.bearer != nil {
		key = group + "|nip:" + ar.bearer.NIP
	}
	if group == "other" {
		key += "|" + r.Method + " " + ar.tmpl
	}
	s.mu.Lock()
	ok, wait, window := false, s.takeRateFaultLocked(group, key, ar.now), blockedWindow
	if wait == 0 {
		ok, wait, window = s.limiter.admit(key, lim, ar.now)
	}
	if !ok {
		s.st.Counters.RateLimited++
		s.markDirty()
	}
	s.mu.Unlock()
	if ok {
		return true
	}
	secs := int((wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	detail := fmt.Sprintf("Przekroczono limit żądań na %s dla grupy %s. Spróbuj ponownie po %d sekundach.", window, group, secs)
	if window == blockedWindow {
		detail = fmt.Sprintf("Dostęp do grupy %s jest zablokowany po przekroczeniu limitu. Spróbuj ponownie po %d sekundach.", group, secs)
	}
	if r.Header.Get("X-Error-Format") == "problem-details" {
		writeJSONType(w, "application/problem+json", 429, map[string]any{"title": "Too Many Requests", "status": 429, "instance": r.URL.Path, "detail": detail, "timestamp": fmtTime(ar.now), "traceId": randomHex(8)})
		return false
	}
	writeJSON(w, 429, map[string]any{"status": map[string]any{"code": 429, "description": "Too Many Requests", "details": []string{detail}}})
	return false
}

func (s *Server) lookupBearerLocked(r *http.Request, now time.Time) (string, *bearer) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "", nil
	}
	tok = strings.TrimSpace(tok)
	b := s.st.Bearers[tok]
	if b == nil || !now.Before(b.ValidUntil) {
		return tok, nil
	}
	cp := *b
	return tok, &cp
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ---- response helpers ----

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeJSONType(w, "application/json", code, v)
}

func writeJSONType(w http.ResponseWriter, ctype string, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeInvalid answers 21405 "Błąd walidacji danych wejściowych." (input validation failed), naming
// in detail what was wrong.
func writeInvalid(w http.ResponseWriter, r *http.Request, detail string) {
	writeException(w, r, 400, 21405, "Błąd walidacji danych wejściowych.", detail)
}

// decodeBody reads the JSON request body into req; false means it was malformed and 21405 was answered.
func decodeBody(w http.ResponseWriter, ar *apiRequest, req any) bool {
	if err := json.Unmarshal(ar.body, req); err != nil {
		writeInvalid(w, ar.r, err.Error())
		return false
	}
	return true
}

// decodeBase64 decodes a Base64 request field; false means it was not Base64 and 21405 was answered.
func decodeBase64(w http.ResponseWriter, ar *apiRequest, field, value string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		writeInvalid(w, ar.r, field+" is not Base64")
		return nil, false
	}
	return b, true
}

// writeException answers in the KSeF 400 format, or RFC 7807 when the client asked for it.
func writeException(w http.ResponseWriter, r *http.Request, status, code int, desc string, details ...string) {
	if details == nil {
		details = []string{}
	}
	now := time.Now()
	if r.Header.Get("X-Error-Format") == "problem-details" {
		writeJSONType(w, "application/problem+json", status, map[string]any{
			"title": http.StatusText(status), "status": status, "instance": r.URL.Path, "detail": desc,
			"errors":    []map[string]any{{"code": code, "description": desc, "details": details}},
			"timestamp": fmtTime(now), "traceId": strings.ToLower(randomHex(16)),
		})
		return
	}
	writeJSON(w, status, map[string]any{"exception": map[string]any{
		"exceptionDetailList": []map[string]any{{"exceptionCode": code, "exceptionDescription": desc, "details": details}},
		"referenceNumber":     newUUID(),
		"serviceCode":         "00-" + strings.ToLower(randomHex(16)) + "-" + strings.ToLower(randomHex(8)) + "-00",
		"serviceCtx":          "srvKSEFSIM",
		"serviceName":         "ksefsim",
		"timestamp":           now.UTC().Format("2006-01-02T15:04:05.0000000"),
	}})
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	writeJSONType(w, "application/problem+json", status, map[string]any{
		"title": title, "status": status, "detail": detail, "instance": r.URL.Path,
		"timestamp": fmtTime(time.Now()), "traceId": strings.ToLower(randomHex(16)),
	})
}

// statusGone answers 410 Gone, as KSeF does for the status of an operation (what) begun longer than
// its retention ago, and reports whether it did.
func statusGone(w http.ResponseWriter, ar *apiRequest, begun time.Time, retention time.Duration, what string) bool {
	if ar.now.Sub(begun) <= retention {
		return false
	}
	writeProblem(w, ar.r, 410, "Gone", what+" status is no longer available.")
	return true
}

func newUUID() string {
	h := strings.ToLower(randomHex(16))
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// ---- pre-signed storage URLs ----

func (s *Server) signPath(path string, exp time.Time) string {
	m := hmac.New(sha256.New, s.st.Secret)
	fmt.Fprintf(m, "%s|%d", path, exp.Unix())
	return hex.EncodeToString(m.Sum(nil))
}

// storageURL returns a pre-signed URL for path valid until exp; callers hold s.mu.
func (s *Server) storageURL(r *http.Request, path string, exp time.Time) string {
	return fmt.Sprintf("http://%s%s?se=%d&sig=%s", r.Host, path, exp.Unix(), s.signPath(path, exp))
}

// checkSignature validates a storage request's se/sig against its path at now; callers hold s.mu.
func (s *Server) checkSignature(r *http.Request, now time.Time) (bool, string) {
	q := r.URL.Query()
	se, err := strconv.ParseInt(q.Get("se"), 10, 64)
	if err != nil {
		return false, "missing or malformed expiry"
	}
	exp := time.Unix(se, 0)
	want := s.signPath(r.URL.Path, exp)
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return false, "signature does not match"
	}
	if !now.Before(exp) {
		return false, "signed URL expired"
	}
	return true, ""
}
