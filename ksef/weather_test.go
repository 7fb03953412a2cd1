package ksef

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestKeyRecertifiedWithoutRestart: KSeF re-certifies the key (same publicKeyId, no 21470) and the
// cached certificate expires. The client must notice on its own and keep working.
func TestKeyRecertifiedWithoutRestart(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	// the certificates the client caches expire in a minute
	if err := e.sim.PublishKey(ksefsim.PublishKey{SameKey: true, ValidFor: time.Minute, ExpireOldIn: -time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.OpenOnlineSession(e.ctx, FormFA3); err != nil {
		t.Fatal(err)
	}
	fetches := func() int {
		return e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/security/public-key-certificates") })
	}
	if got := fetches(); got != 1 {
		t.Fatalf("key fetches before = %d, want 1", got)
	}
	if err := e.sim.PublishKey(ksefsim.PublishKey{SameKey: true}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Minute) // the cached certificates are now expired
	s, err := e.c.OpenOnlineSession(e.ctx, FormFA3)
	if err != nil {
		t.Fatalf("after re-certification: %v", err)
	}
	if got := fetches(); got != 2 {
		t.Fatalf("key fetches after expiry = %d, want 2", got)
	}
	if inv := e.sendAndWait(s, e.invoice()); inv.Status.Code != 200 {
		t.Fatalf("invoice after re-certification: %+v", inv.Status)
	}
	// at least daily, even when nothing expires
	e.clk.Advance(25 * time.Hour)
	if _, err := e.c.OpenOnlineSession(e.ctx, FormFA3); err != nil {
		t.Fatal(err)
	}
	if got := fetches(); got != 3 {
		t.Fatalf("key fetches after a day = %d, want 3", got)
	}
}

// TestKeyNearExpiryRefetched: a certificate within a day of validTo makes the client look for its
// successor before it expires, and pick the one with the latest validFrom.
func TestKeyNearExpiryRefetched(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	if err := e.sim.PublishKey(ksefsim.PublishKey{ValidFor: 20 * time.Hour}); err != nil { // new key, short-lived
		t.Fatal(err)
	}
	if _, err := e.c.OpenOnlineSession(e.ctx, FormFA3); err != nil {
		t.Fatal(err)
	}
	keys, _ := e.c.PublicKeys(e.ctx)
	first, err := pickKey(keys, UsageSymmetricKey, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.PublishKey(ksefsim.PublishKey{}); err != nil { // its successor
		t.Fatal(err)
	}
	e.clk.Advance(15 * time.Minute)
	if _, err := e.c.OpenOnlineSession(e.ctx, FormFA3); err != nil {
		t.Fatal(err)
	}
	k, err := e.c.currentKey(e.ctx, UsageSymmetricKey)
	if err != nil {
		t.Fatal(err)
	}
	if k.PublicKeyID == first.PublicKeyID {
		t.Fatal("client kept the certificate that expires within a day although a successor was published")
	}
}

// TestWeatherIsTransient: HTML 5xx and firewall blocks are typed, transient, never "credentials
// wrong"; a firewall block on /auth/token/refresh keeps the refresh token.
func TestWeatherIsTransient(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 2 })
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatal(err)
	}
	s := e.openOnline()
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultHTML5xx, Rate: 1, Groups: []string{GroupSessionMisc}}}})
	_, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber)
	var unavail *UnavailableError
	if !errors.As(err, &unavail) || !IsTransient(err) || RetryAfterHint(err) <= 0 || strings.Contains(err.Error(), "<") {
		t.Fatalf("HTML 5xx: %v", err)
	}
	var api *APIError
	if errors.As(err, &api) {
		t.Fatalf("HTML 5xx classed as a KSeF answer: %v", err)
	}

	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultWAF403, Rate: 1, Groups: []string{GroupAuth}}}})
	e.clk.Advance(20 * time.Minute) // access token expires: the refresh is blocked
	_, err = e.c.SessionStatus(e.ctx, s.ReferenceNumber)
	var blocked *BlockedError
	if !errors.As(err, &blocked) || blocked.IncidentID == "" || !IsTransient(err) || IsCredentialsProblem(err) || RetryAfterHint(err) < time.Minute {
		t.Fatalf("firewall block on refresh: %v", err)
	}
	if !strings.Contains(err.Error(), "blocked by KSeF's firewall, incident "+blocked.IncidentID) {
		t.Fatalf("message: %v", err)
	}
	e.sim.SetFaults(ksefsim.Faults{})
	logins := e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/ksef-token") })
	if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
		t.Fatalf("after the block lifted: %v", err)
	}
	if got := e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/ksef-token") }); got != logins {
		t.Fatalf("a firewall block made the client log in again (%d → %d): the refresh token was dropped", logins, got)
	}

	// a login that only the firewall refuses is not a credentials problem
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultWAF403, Rate: 1, Groups: []string{GroupAuth}}}})
	err = e.c.Login(e.ctx)
	if err == nil || IsCredentialsProblem(err) || !IsTransient(err) {
		t.Fatalf("blocked login: %v (credentials problem %v)", err, IsCredentialsProblem(err))
	}
}

// TestWeatherOnEveryGroup: 30 % of every group's answers are HTML 5xx or firewall blocks; an online
// session still sends and confirms every invoice, never twice.
func TestWeatherOnEveryGroup(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 12 })
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultHTML5xx, Rate: 0.15}, {Kind: ksefsim.FaultWAF403, Rate: 0.15}}})
	s := e.openOnline()
	var refs []string
	for range 10 {
		sent, err := e.c.SendInvoice(e.ctx, s, e.invoice(), SendOptions{})
		var blocked *BlockedError
		if MayHaveReachedKSeF(err) && errors.As(err, &blocked) {
			t.Fatalf("a firewall block (never reached KSeF) was called ambiguous: %v", err)
		}
		if err != nil && !IsTransient(err) {
			t.Fatalf("send: %v", err)
		}
		if err == nil {
			refs = append(refs, sent.ReferenceNumber)
		}
	}
	for _, ref := range refs {
		if inv := e.waitInvoice(s.ReferenceNumber, ref); inv.Status.Code != 200 {
			t.Fatalf("invoice: %+v", inv.Status)
		}
	}
	st := e.sim.Stats()
	if st.Weather == 0 || st.DuplicateSubmissions != 0 {
		t.Fatalf("weather answers %d, duplicate submissions %d", st.Weather, st.DuplicateSubmissions)
	}
}

// TestStorageHTMLNeverAUPO: a storage challenge page is never returned as a UPO; with some pages
// among the answers, the real UPO comes through.
func TestStorageHTMLNeverAUPO(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 12 })
	s := e.openOnline()
	sent := e.send(s, e.invoice())
	inv := e.waitInvoice(s.ReferenceNumber, sent.ReferenceNumber)
	if inv.UpoDownloadURL == "" {
		t.Fatal("no UPO download URL")
	}
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultStorageHTML, Rate: 1}}})
	if b, err := e.c.DownloadInvoiceUPO(e.ctx, inv.UpoDownloadURL, inv.KsefNumber); err == nil || !IsTransient(err) {
		t.Fatalf("challenge page returned as UPO: %v %.80q", err, b)
	}
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultStorageHTML, Rate: 0.5}}})
	for range 10 {
		b, err := e.c.DownloadInvoiceUPO(e.ctx, inv.UpoDownloadURL, inv.KsefNumber)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckUPO(b, inv.KsefNumber); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.DownloadInvoiceUPO(e.ctx, inv.UpoDownloadURL, "5265877635-20261120-000000000000-00"); err == nil {
		t.Fatal("a UPO naming another KSeF number was accepted")
	}
}

func TestCheckUPO(t *testing.T) {
	const num = "5265877635-20250916-0200A0D6723E-C2"
	good := `<?xml version="1.0" encoding="utf-8"?><Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3"><Dokument><NumerKSeFDokumentu>` + num + `</NumerKSeFDokumentu></Dokument></Potwierdzenie>`
	tests := []struct {
		name, body, number string
		ok                 bool
	}{
		{"UPO", good, num, true},
		{"UPO, number not asked", good, "", true},
		{"another number", good, "5265877635-20250916-0200A0D6723F-00", false},
		{"HTML page", "<!DOCTYPE html><html><body>Just a moment...</body></html>", num, false},
		{"other namespace", strings.Replace(good, "upo.schematy.mf.gov.pl/KSeF/v4-3", "example.com/x", 1), num, false},
		{"truncated", good[:len(good)-20], num, false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUPO([]byte(tt.body), tt.number)
			if got := err == nil; got != tt.ok {
				t.Fatalf("CheckUPO ok = %v, want %v (%v)", got, tt.ok, err)
			}
			if err != nil && !IsTransient(err) {
				t.Fatalf("not transient: %v", err)
			}
		})
	}
}

// TestOpenBatchSessionNotRepeated: a 5xx on opening a batch session may have opened it; the client
// must not open another, and says so with a typed error. A firewall block is retried (it never
// reached KSeF).
func TestOpenBatchSessionNotRepeated(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 12 })
	pkg := e.onePartPackage()
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PublicKeys(e.ctx); err != nil {
		t.Fatal(err)
	}
	opens := func() int {
		return e.rt.count(func(x exchange) bool {
			return x.method == http.MethodPost && strings.HasSuffix(x.path, "/sessions/batch")
		})
	}
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 1, OnlyPaths: []string{"/v2/sessions/batch"}})
	_, err := e.c.OpenBatchSession(e.ctx, FormFA3, pkg, false)
	if !MayHaveReachedKSeF(err) || !IsTransient(err) {
		t.Fatalf("5xx on open: %v", err)
	}
	if got := opens(); got != 1 {
		t.Fatalf("open batch session sent %d times after a 5xx, want 1", got)
	}
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultWAF403, Rate: 0.5, Groups: []string{GroupBatchSession}}}})
	if _, err := e.c.OpenBatchSession(e.ctx, FormFA3, pkg, false); err != nil {
		t.Fatalf("firewall blocks on open are retried: %v", err)
	}
}

// onePartPackage builds a batch package of one invoice (one part); the test removes it at the end.
func (e *env) onePartPackage() *BatchPackage {
	e.t.Helper()
	b, err := NewBatchBuilder(e.t.TempDir(), Zip, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := b.Add("a.xml", e.invoice()); err != nil {
		e.t.Fatal(err)
	}
	pkg, err := b.Finish()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { pkg.Remove() })
	return pkg
}

// TestPartUploadChallengePageIsRetried: storage stores a part only when it answers 201; the firewall
// in front of it answers 200 with an HTML page and stores nothing (CIRFMF/ksef-client-java #89). Such
// an answer is weather: the part is uploaded again, so the close finds it (no 21205). When every
// answer is the page, the error names what storage answered.
func TestPartUploadChallengePageIsRetried(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 3 })
	pkg := e.onePartPackage()
	bs, err := e.c.OpenBatchSession(e.ctx, FormFA3, pkg, false)
	if err != nil {
		t.Fatal(err)
	}
	challenge := ksefsim.KindFault{Kind: ksefsim.FaultStorageHTML, Rate: 1, Groups: []string{ksefsim.GroupStorage}}
	first := challenge
	first.Count = 1
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{first}})
	if err := e.c.UploadBatchParts(e.ctx, bs, pkg); err != nil {
		t.Fatal(err)
	}
	if err := e.c.CloseBatchSession(e.ctx, bs.ReferenceNumber); err != nil {
		t.Fatalf("close after a challenge page answered the first upload: %v", err)
	}
	puts := func(status int) int {
		return e.rt.count(func(x exchange) bool { return x.method == http.MethodPut && x.status == status })
	}
	if p200, p201 := puts(http.StatusOK), puts(http.StatusCreated); p200 != 1 || p201 != 1 {
		t.Fatalf("part uploads answered 200: %d, 201: %d; want the part uploaded twice (1 and 1)", p200, p201)
	}
	if st, err := e.c.WaitSession(e.ctx, bs.ReferenceNumber, time.Second); err != nil || st.Status.Code != 200 {
		t.Fatalf("batch after the retried upload: %+v %v", st, err)
	}

	pkg2 := e.onePartPackage()
	bs2, err := e.c.OpenBatchSession(e.ctx, FormFA3, pkg2, false)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{challenge}})
	err = e.c.UploadBatchParts(e.ctx, bs2, pkg2)
	if err == nil || !IsTransient(err) || !strings.Contains(err.Error(), "storage answered 200 text/html; charset=utf-8 instead of 201") {
		t.Fatalf("every upload answered with a challenge page: %v, want a transient error naming the answer", err)
	}
}

// TestUnreachableSaysSo: a refused connection is described in plain words, quickly.
func TestUnreachableSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clk := newFakeClock()
	c, err := New(Options{BaseURL: "http://" + addr + "/v2", Auth: TokenAuth{Token: "x"}, Clock: clk, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Login(t.Context())
	var u *UnreachableError
	if !errors.As(err, &u) || u.Reason != "connection refused" || IsCredentialsProblem(err) || !IsTransient(err) {
		t.Fatalf("unreachable: %v", err)
	}
	if n := len(clk.Sleeps()); n > 1 {
		t.Fatalf("a refused connection was retried %d times: nobody listening is not cured in seconds", n)
	}
	want := "KSeF at http://" + addr + "/v2 does not answer (connection refused); queued invoices stay safe"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "dial tcp") {
		t.Fatalf("message %q lacks %q", err, want)
	}
}

type recObserver struct {
	mu       sync.Mutex
	requests map[string]int
	waits    map[string]time.Duration
}

func (o *recObserver) Request(group string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[group]++
}

func (o *recObserver) PacerWait(group string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waits[group] += d
}

func TestObserver(t *testing.T) {
	obs := &recObserver{requests: map[string]int{}, waits: map[string]time.Duration{}}
	e := newEnv(t, ksefsim.Options{}, func(o *Options) {
		o.Observer = obs
		o.Limits = RateTable{GroupSessionMisc: {PerSecond: 2}}
	})
	s := e.openOnline()
	for range 4 {
		if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
			t.Fatal(err)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.requests[GroupAuth] == 0 || obs.requests[GroupOnlineSession] != 1 || obs.requests[GroupSessionMisc] != 4 {
		t.Fatalf("requests %v", obs.requests)
	}
	if obs.waits[GroupSessionMisc] <= 0 {
		t.Fatalf("pacer waits %v", obs.waits)
	}
}

// TestExportPartNotIntactIsRetried: storage serves an export part with the right size and the wrong
// bytes (one flipped), or an HTML page. The hashes catch it, and it is transient: the part is
// fetched again (never used), so with some damaged answers the package still arrives intact, and
// when every answer is damaged the error tells the caller to try again later.
func TestExportPartNotIntactIsRetried(t *testing.T) {
	e := newEnv(t, ksefsim.Options{ExportPartSize: 1000}, func(o *Options) { o.MaxRetries = 12 })
	want := seedReceived(t, e, 8)
	exp, pkg := exportReceived(t, e, 2)
	for _, kind := range []string{ksefsim.FaultStorageCorrupt, ksefsim.FaultStorageHTML} {
		e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: kind, Rate: 1}}})
		_, err := e.c.DownloadExport(e.ctx, exp, pkg, t.TempDir())
		if err == nil || !IsTransient(err) || !strings.Contains(err.Error(), "export part not intact") {
			t.Fatalf("%s on every part: %v, want a transient 'not intact' error", kind, err)
		}
		if kind == ksefsim.FaultStorageCorrupt && !strings.Contains(err.Error(), "hash mismatch") {
			t.Fatalf("a flipped byte is not named a hash mismatch: %v", err)
		}
	}
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{{Kind: ksefsim.FaultStorageCorrupt, Rate: 0.4}}})
	a, err := e.c.DownloadExport(e.ctx, exp, pkg, t.TempDir())
	e.sim.SetFaults(ksefsim.Faults{})
	if err != nil {
		t.Fatalf("with 40%% damaged answers the parts are fetched again: %v", err)
	}
	defer a.Close()
	assertArchiveHolds(t, a, want)
	if e.sim.Stats().Weather == 0 {
		t.Fatal("no part was damaged")
	}
}

// TestExpiredStorageLinkIsRefused: a pre-signed link past its expiry (UpoDownloadUrlExpirationDate,
// "Po tej dacie link UpoDownloadUrl nie będzie już aktywny", open-api.json) is refused by the
// storage with 403 AuthenticationFailed, in Azure Storage's XML error body. That is a refusal of
// this link, not the firewall: it fails at once, without backoff, so the caller turns to the UPO
// endpoint instead of waiting through the retries of a firewall block.
func TestExpiredStorageLinkIsRefused(t *testing.T) {
	e := newEnv(t, ksefsim.Options{UPOURLTTL: time.Hour}, nil)
	s := e.openOnline()
	inv := e.waitInvoice(s.ReferenceNumber, e.send(s, e.invoice()).ReferenceNumber)
	if inv.UpoDownloadURL == "" || inv.UpoDownloadURLExpirationDate == nil {
		t.Fatal("no UPO download URL")
	}
	e.clk.Advance(inv.UpoDownloadURLExpirationDate.Sub(e.clk.Now()) + time.Minute)
	sleeps := len(e.clk.Sleeps())
	storage := func() int { return e.rt.count(func(x exchange) bool { return strings.HasPrefix(x.path, "/storage/") }) }
	before := storage()
	_, err := e.c.DownloadInvoiceUPO(e.ctx, inv.UpoDownloadURL, inv.KsefNumber)
	var api *APIError
	if !errors.As(err, &api) || api.HTTPStatus != 403 || api.Title != "AuthenticationFailed" || IsTransient(err) {
		t.Fatalf("expired link: %v (%T), want a 403 AuthenticationFailed refusal", err, errors.Unwrap(err))
	}
	if n := storage() - before; n != 1 || len(e.clk.Sleeps()) != sleeps {
		t.Errorf("%d requests and %d backoff sleeps for an expired link, want 1 and none", n, len(e.clk.Sleeps())-sleeps)
	}
	if _, err := e.c.InvoiceUPOByKsefNumber(e.ctx, s.ReferenceNumber, inv.KsefNumber); err != nil {
		t.Errorf("the UPO endpoint: %v", err)
	}
}
