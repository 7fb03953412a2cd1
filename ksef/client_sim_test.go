package ksef

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

const testNIP = "5265877635"

// recordingTransport is real HTTP; it only remembers what went over the wire.
type recordingTransport struct {
	mu    sync.Mutex
	base  http.RoundTripper
	exchs []exchange
}

type exchange struct {
	method, path string
	status       int
	retryAfter   string
	authHeader   bool
	body         []byte // only for 4xx
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	ex := exchange{method: req.Method, path: req.URL.Path, authHeader: req.Header.Get("Authorization") != ""}
	if err == nil {
		ex.status = resp.StatusCode
		ex.retryAfter = resp.Header.Get("Retry-After")
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			ex.body = b
		}
	}
	rt.mu.Lock()
	rt.exchs = append(rt.exchs, ex)
	rt.mu.Unlock()
	return resp, err
}

func (rt *recordingTransport) all() []exchange {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]exchange(nil), rt.exchs...)
}

func (rt *recordingTransport) count(pred func(exchange) bool) int {
	n := 0
	for _, e := range rt.all() {
		if pred(e) {
			n++
		}
	}
	return n
}

// env is one simulator plus one client sharing a fake clock (the sim may run skewed ahead).
type env struct {
	t    *testing.T
	sim  *ksefsim.Server
	clk  *fakeClock
	skew atomic.Int64
	rt   *recordingTransport
	c    *Client
	ctx  context.Context
}

func newEnv(t *testing.T, simOpts ksefsim.Options, mod func(*Options)) *env {
	t.Helper()
	e := &env{t: t, clk: newFakeClock()}
	simOpts.Now = func() time.Time { return e.clk.Now().Add(time.Duration(e.skew.Load())) }
	if simOpts.DefaultNIP == "" {
		simOpts.DefaultNIP = testNIP
	}
	sim := simtest.Start(t, simOpts)
	simtest.CheckSpec(t, sim)
	e.sim = sim
	e.rt = &recordingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	opts := Options{
		BaseURL:    sim.URL(),
		Context:    ContextIdentifier{Type: "Nip", Value: testNIP},
		Auth:       TokenAuth{Token: sim.Token(testNIP)},
		HTTPClient: &http.Client{Transport: e.rt, Timeout: 30 * time.Second},
		Clock:      e.clk,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

var invoiceSeq atomic.Int64

func (e *env) invoice() []byte {
	return sampleInvoice(testNIP, fmt.Sprintf("T%d-%d", time.Now().UnixNano(), invoiceSeq.Add(1)), e.clk.Now())
}

// openOnline opens an online session for FA(3), failing the test on an error.
func (e *env) openOnline() *OnlineSession {
	e.t.Helper()
	s, err := e.c.OpenOnlineSession(e.ctx, FormFA3)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// send sends invoiceXML in session s, failing the test on an error.
func (e *env) send(s *OnlineSession, invoiceXML []byte) *SentInvoice {
	e.t.Helper()
	sent, err := e.c.SendInvoice(e.ctx, s, invoiceXML, SendOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return sent
}

// sendAndWait sends invoiceXML in session s and returns its final status.
func (e *env) sendAndWait(s *OnlineSession, invoiceXML []byte) *SessionInvoice {
	e.t.Helper()
	return e.waitInvoice(s.ReferenceNumber, e.send(s, invoiceXML).ReferenceNumber)
}

// waitInvoice polls an invoice's status until it is final.
func (e *env) waitInvoice(sessionRef, invRef string) *SessionInvoice {
	e.t.Helper()
	for range 200 {
		inv, err := e.c.SessionInvoice(e.ctx, sessionRef, invRef)
		if err != nil {
			e.t.Fatal(err)
		}
		if inv.Status.Final() {
			return inv
		}
		if err := e.clk.Sleep(e.ctx, time.Second); err != nil {
			e.t.Fatal(err)
		}
	}
	e.t.Fatalf("invoice %s never reached a final status", invRef)
	return nil
}

func TestLoginRefreshAndRelogin(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatal(err)
	}
	acc1, ref1 := e.c.TokenExpiry()
	if !acc1.After(e.clk.Now()) || !ref1.After(acc1) {
		t.Fatalf("token expiry access=%v refresh=%v now=%v", acc1, ref1, e.clk.Now())
	}
	redeems := func() int {
		return e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/token/redeem") })
	}
	refreshes := func() int {
		return e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/token/refresh") })
	}

	// access token about to expire → refreshed before the call, refresh token kept
	e.clk.Advance(acc1.Sub(e.clk.Now()) - 30*time.Second)
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	acc2, ref2 := e.c.TokenExpiry()
	if !acc2.After(acc1) || !ref2.Equal(ref1) || refreshes() != 1 || redeems() != 1 {
		t.Fatalf("after expiry: access %v→%v refresh %v→%v, refreshes=%d redeems=%d", acc1, acc2, ref1, ref2, refreshes(), redeems())
	}

	// KSeF's clock runs ahead: it rejects a token we still think valid → 401 → refresh once, retry
	e.skew.Store(int64(acc2.Sub(e.clk.Now())))
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.rt.count(func(x exchange) bool { return x.status == 401 }); n != 1 {
		t.Fatalf("want exactly one 401, got %d", n)
	}
	if refreshes() != 2 || redeems() != 1 {
		t.Fatalf("after 401: refreshes=%d redeems=%d", refreshes(), redeems())
	}
	e.skew.Store(0)

	// refresh token expired too → full login
	e.clk.Advance(8 * 24 * time.Hour)
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, ref3 := e.c.TokenExpiry(); !ref3.After(ref1) || redeems() != 2 {
		t.Fatalf("after refresh expiry: refresh %v→%v redeems=%d", ref1, ref3, redeems())
	}

	// KSeF rejects both tokens we still believe valid (its clock is 8 days ahead): 401 on the call,
	// 401 on the refresh, then a full login, then the call succeeds
	e.skew.Store(int64(8 * 24 * time.Hour))
	redeemsBefore, unauthorizedBefore := redeems(), e.rt.count(func(x exchange) bool { return x.status == 401 })
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	if redeems() != redeemsBefore+1 || e.rt.count(func(x exchange) bool { return x.status == 401 }) != unauthorizedBefore+2 {
		t.Fatalf("rejected refresh token: redeems %d→%d", redeemsBefore, redeems())
	}

	if err := e.c.Logout(e.ctx); err != nil {
		t.Fatal(err)
	}
	if a, r := e.c.TokenExpiry(); !a.IsZero() || !r.IsZero() {
		t.Fatalf("tokens kept after logout: %v %v", a, r)
	}
}

func TestLoginWrongToken(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.Auth = TokenAuth{Token: "not-a-real-token|nip-5265877635|00"} })
	err := e.c.Login(e.ctx)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != 450 {
		t.Fatalf("Login with a wrong token = %v, want *AuthError 450", err)
	}
	if strings.Contains(err.Error(), "not-a-real-token") {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestOnlineSessionFlow(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	s := e.openOnline()
	if !s.ValidUntil.After(e.clk.Now()) {
		t.Fatalf("session validUntil %v", s.ValidUntil)
	}
	xml := e.invoice()
	sent := e.send(s, xml)
	if sent.InvoiceHash != hashB64(xml) {
		t.Fatalf("InvoiceHash %s", sent.InvoiceHash)
	}
	inv := e.waitInvoice(s.ReferenceNumber, sent.ReferenceNumber)
	if inv.Status.Code != 200 || !ValidKsefNumber(inv.KsefNumber) || inv.InvoiceHash != sent.InvoiceHash {
		t.Fatalf("invoice = %+v", inv)
	}
	if inv.UpoDownloadURL == "" {
		t.Fatal("no upoDownloadUrl")
	}
	upo1, err := e.c.DownloadUPO(e.ctx, inv.UpoDownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	upo2, err := e.c.InvoiceUPO(e.ctx, s.ReferenceNumber, sent.ReferenceNumber)
	if err != nil {
		t.Fatal(err)
	}
	upo3, err := e.c.InvoiceUPOByKsefNumber(e.ctx, s.ReferenceNumber, inv.KsefNumber)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range [][]byte{upo1, upo2, upo3} {
		if !bytes.Contains(u, []byte(inv.KsefNumber)) || !bytes.Contains(u, []byte("http://upo.schematy.mf.gov.pl/KSeF/v4-3")) {
			t.Fatalf("UPO %d does not name %s:\n%s", i+1, inv.KsefNumber, u)
		}
	}

	if err := e.c.CloseOnlineSession(e.ctx, s.ReferenceNumber); err != nil {
		t.Fatal(err)
	}
	st, err := e.c.WaitSession(e.ctx, s.ReferenceNumber, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Code != 200 || st.SuccessfulInvoiceCount != 1 || st.UPO == nil || len(st.UPO.Pages) == 0 {
		t.Fatalf("session status = %+v", st)
	}
	page := st.UPO.Pages[0]
	viaURL, err := e.c.DownloadUPO(e.ctx, page.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	viaAPI, err := e.c.SessionUPO(e.ctx, s.ReferenceNumber, page.ReferenceNumber)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(viaURL, []byte(inv.KsefNumber)) || !bytes.Contains(viaAPI, []byte(inv.KsefNumber)) {
		t.Fatal("session UPO does not list the invoice")
	}
	// storage URLs never carry the token; API calls always do
	for _, x := range e.rt.all() {
		if strings.Contains(x.path, "/storage/") && x.authHeader {
			t.Errorf("token sent to storage URL %s", x.path)
		}
	}
	// sending into a closed session is a 4xx that is not retried
	_, err = e.c.SendInvoice(e.ctx, s, e.invoice(), SendOptions{})
	var api *APIError
	if !errors.As(err, &api) || !api.HasCode(21180) || IsRetriable(err) {
		t.Fatalf("send to closed session = %v, want APIError 21180", err)
	}
}

func TestDuplicateInvoice440(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	xml := e.invoice()
	s1 := e.openOnline()
	sent1 := e.send(s1, xml)
	first := e.waitInvoice(s1.ReferenceNumber, sent1.ReferenceNumber)
	if first.Status.Code != 200 {
		t.Fatalf("first send: %+v", first.Status)
	}
	s2 := e.openOnline()
	sent2 := e.send(s2, xml)
	second := e.waitInvoice(s2.ReferenceNumber, sent2.ReferenceNumber)
	ksefNo, sessRef, ok := second.Status.Duplicate()
	if !ok || ksefNo != first.KsefNumber || sessRef != s1.ReferenceNumber {
		t.Fatalf("duplicate status %+v: got (%s, %s, %v), want (%s, %s)", second.Status, ksefNo, sessRef, ok, first.KsefNumber, s1.ReferenceNumber)
	}
	if second.Status.Transient() {
		t.Error("440 must not be transient")
	}
}

func TestSessionInvoicePaging(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.PageSize = 10 })
	s := e.openOnline()
	want := map[string]bool{}
	for range 24 {
		sent := e.send(s, e.invoice())
		want[sent.ReferenceNumber] = true
	}
	// one invoice of another seller: fails (450), so /failed has exactly one
	bad := e.send(s, sampleInvoice("3861610227", "other-seller", e.clk.Now()))
	want[bad.ReferenceNumber] = true
	if got := e.waitInvoice(s.ReferenceNumber, bad.ReferenceNumber); got.Status.Code < 400 {
		t.Fatalf("invoice of another seller: %+v", got.Status)
	}
	got := map[string]bool{}
	err := e.c.ListSessionInvoices(e.ctx, s.ReferenceNumber, false, func(inv SessionInvoice) error {
		if got[inv.ReferenceNumber] {
			return fmt.Errorf("invoice %s listed twice", inv.ReferenceNumber)
		}
		got[inv.ReferenceNumber] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("listed invoices (-want +got):\n%s", diff)
	}
	lists := e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/invoices") && x.method == "GET" })
	if lists != 3 {
		t.Errorf("25 invoices with page size 10 took %d list calls, want 3", lists)
	}
	var failed []string
	err = e.c.ListSessionInvoices(e.ctx, s.ReferenceNumber, true, func(inv SessionInvoice) error {
		failed = append(failed, inv.ReferenceNumber)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{bad.ReferenceNumber}, failed); diff != "" {
		t.Errorf("failed invoices (-want +got):\n%s", diff)
	}
}

// TestRateLimitRetryAfter disables our own pacer for sessionMisc so the simulator (production
// limits, 10/s) answers 429; the client must sleep exactly Retry-After and then succeed.
func TestRateLimitRetryAfter(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, func(o *Options) {
		o.Limits = RateTable{GroupSessionMisc: {}}
		o.MaxRetries = 2
	})
	s := e.openOnline()
	for range 15 {
		if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
			t.Fatal(err)
		}
	}
	var ras []string
	for _, x := range e.rt.all() {
		if x.status == 429 {
			ras = append(ras, x.retryAfter)
		}
	}
	if len(ras) == 0 || e.sim.Stats().RateLimited == 0 {
		t.Fatal("the simulator never answered 429")
	}
	sleeps := map[time.Duration]int{}
	for _, d := range e.clk.Sleeps() {
		sleeps[d]++
	}
	for _, ra := range ras {
		n, err := strconv.Atoi(ra)
		if err != nil || n < 1 {
			t.Fatalf("bad Retry-After %q", ra)
		}
		if sleeps[time.Duration(n)*time.Second] == 0 {
			t.Fatalf("Retry-After %ss but the client slept %v", ra, e.clk.Sleeps())
		}
	}
}

// untilRefused asks for session s's status up to 20 times, more than sessionMisc allows in a
// second, and returns the first error.
func (e *env) untilRefused(ctx context.Context, s *OnlineSession) error {
	for range 20 {
		if _, err := e.c.SessionStatus(ctx, s.ReferenceNumber); err != nil {
			return err
		}
	}
	return nil
}

// TestRateLimitBlockHoldsTheGroup: after a 429 KSeF blocks the group until Retry-After (CIRFMF/ksef-docs
// limity/limity-api.md §2), so every later call of the group waits for the block's end, not only the
// refused call's retry; a caller whose wait limit is shorter gets the error at once, with nothing sent.
func TestRateLimitBlockHoldsTheGroup(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, func(o *Options) {
		o.Limits = RateTable{GroupSessionMisc: {}} // no pacing of ours: KSeF's 10/s answers 429
	})
	s := e.openOnline()
	bounded := WithWaitLimit(e.ctx, 0)
	err := e.untilRefused(bounded, s)
	var first *RateLimitError
	if !errors.As(err, &first) || first.Ours || first.RetryAfter < time.Second {
		t.Fatalf("want KSeF's 429 returned at once, got %v", err)
	}
	sent := len(e.rt.all())
	_, err = e.c.SessionStatus(bounded, s.ReferenceNumber)
	var again *RateLimitError
	if !errors.As(err, &again) || again.Ours || again.RetryAfter != first.RetryAfter {
		t.Fatalf("a call during KSeF's block: got %v, want the rest of the block (%s)", err, first.RetryAfter)
	}
	if n := len(e.rt.all()); n != sent {
		t.Fatalf("a call during KSeF's block reached KSeF (%d requests, want %d)", n, sent)
	}
	slept := len(e.clk.Sleeps())
	if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
		t.Fatalf("after the block: %v", err)
	}
	if got := e.clk.Sleeps()[slept:]; len(got) != 1 || got[0] != first.RetryAfter {
		t.Errorf("a call without a wait limit slept %v, want exactly the block (%s)", got, first.RetryAfter)
	}
	if n := e.sim.Stats().RateLimited; n != 1 {
		t.Errorf("KSeF answered %d×429, want 1", n)
	}
}

// TestWaitLimitOurBudget: a call our own pacer would hold longer than the caller's wait limit fails at
// once with Ours set and nothing sent; once the budget has room again it goes.
func TestWaitLimitOurBudget(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, nil)
	s := e.openOnline()
	bounded := WithWaitLimit(e.ctx, 0)
	err := e.untilRefused(bounded, s)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Ours || rl.RetryAfter <= 0 || rl.Group != GroupSessionMisc {
		t.Fatalf("want our pacer's RateLimitError for %s, got %v", GroupSessionMisc, err)
	}
	if !strings.Contains(err.Error(), "our share") {
		t.Errorf("error %q does not say it was our own pacing", err)
	}
	if n := e.sim.Stats().RateLimited; n != 0 {
		t.Fatalf("KSeF answered %d×429; our pacer should have held the call back", n)
	}
	e.clk.Advance(rl.RetryAfter)
	if _, err := e.c.SessionStatus(bounded, s.ReferenceNumber); err != nil {
		t.Fatalf("after %s: %v", rl.RetryAfter, err)
	}
}

// TestPacerAvoids429 runs the same burst with the default (production) pacer: no 429 at all.
func TestPacerAvoids429(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, nil)
	s := e.openOnline()
	for range 40 {
		if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.Stats().RateLimited; n != 0 {
		t.Fatalf("simulator answered %d×429 despite pacing", n)
	}
}

func TestServerErrorsRetried(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 20 })
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatal(err)
	}
	s := e.openOnline()
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.5, OnlyPaths: []string{"/sessions/" + s.ReferenceNumber}})
	for range 20 {
		if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.rt.count(func(x exchange) bool { return x.status >= 500 }); n == 0 {
		t.Fatal("no 5xx was injected")
	}
	// Connections closed without an answer: an invoice send is never repeated by the client (the
	// first attempt may have been registered); the caller reconciles with the session list.
	e.sim.SetFaults(ksefsim.Faults{DropRate: 0.5, OnlyPaths: []string{s.ReferenceNumber + "/invoices"}})
	var refs []string
	lost := 0
	for range 15 {
		before := len(e.rt.all())
		sent, err := e.c.SendInvoice(e.ctx, s, e.invoice(), SendOptions{})
		if n := len(e.rt.all()) - before; n != 1 {
			t.Fatalf("send made %d attempts, want exactly 1", n)
		}
		if err != nil {
			if !IsRetriable(err) {
				t.Fatalf("lost answer not classed retriable: %v", err)
			}
			lost++
			continue
		}
		refs = append(refs, sent.ReferenceNumber)
	}
	if lost == 0 {
		t.Fatal("no connection was dropped")
	}
	e.sim.SetFaults(ksefsim.Faults{})
	for _, ref := range refs {
		if inv := e.waitInvoice(s.ReferenceNumber, ref); inv.Status.Code != 200 {
			t.Fatalf("invoice after retried send: %+v", inv.Status)
		}
	}
	if d := e.sim.Stats().DuplicateSubmissions; d != 0 {
		t.Fatalf("retries caused %d duplicate submissions", d)
	}
	// an outage exhausts the bounded retries with a retriable error
	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	before := len(e.rt.all())
	_, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber)
	var unavail *UnavailableError
	if !errors.As(err, &unavail) || unavail.HTTPStatus != 503 || !IsRetriable(err) {
		t.Fatalf("during outage: %v", err)
	}
	if n := len(e.rt.all()) - before; n != 21 {
		t.Fatalf("outage: %d attempts, want MaxRetries+1 = 21", n)
	}
	e.sim.SetFaults(ksefsim.Faults{})
}

func TestKeyRotation21470(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	if _, err := e.c.OpenOnlineSession(e.ctx, FormFA3); err != nil {
		t.Fatal(err)
	}
	before, err := e.c.PublicKeys(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldIDs := map[string]bool{}
	for _, u := range []string{UsageKsefToken, UsageSymmetricKey} {
		k, err := pickKey(before, u, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		oldIDs[k.PublicKeyID] = true
	}
	e.sim.RotateKeys(true)
	s := e.openOnline()
	saw21470 := e.rt.count(func(x exchange) bool { return x.status == 400 && bytes.Contains(x.body, []byte("21470")) })
	fetches := e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/security/public-key-certificates") })
	if saw21470 != 1 || fetches != 2 {
		t.Fatalf("21470 answers=%d key fetches=%d, want 1 and 2", saw21470, fetches)
	}
	after, err := e.c.PublicKeys(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := pickKey(after, UsageSymmetricKey, e.clk.Now()); err != nil || oldIDs[k.PublicKeyID] {
		t.Fatalf("after rotation the client still picks the withdrawn key (%v)", err)
	}
	// the new session works with the new key
	if inv := e.sendAndWait(s, e.invoice()); inv.Status.Code != 200 {
		t.Fatalf("after rotation: %+v", inv.Status)
	}
}

func TestBatchSession(t *testing.T) {
	for _, comp := range []Compression{Zip, TarGz} {
		t.Run(string(comp), func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 20 })
			b, err := NewBatchBuilder(t.TempDir(), comp, 600)
			if err != nil {
				t.Fatal(err)
			}
			hashes := map[string]string{} // file name → invoice hash
			for i := range 12 {
				xml := e.invoice()
				name := fmt.Sprintf("faktura_%d.xml", i)
				if err := b.Add(name, xml); err != nil {
					t.Fatal(err)
				}
				hashes[name] = hashB64(xml)
			}
			pkg, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer pkg.Remove()
			if len(pkg.Parts) < 3 {
				t.Fatalf("only %d parts", len(pkg.Parts))
			}
			bs, err := e.c.OpenBatchSession(e.ctx, FormFA3, pkg, false)
			if err != nil {
				t.Fatal(err)
			}
			// storage answers 5xx half of the time: uploads are retried
			e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.5, OnlyPaths: []string{"/storage/"}})
			if err := e.c.UploadBatchParts(e.ctx, bs, pkg); err != nil {
				t.Fatal(err)
			}
			e.sim.SetFaults(ksefsim.Faults{})
			if n := e.rt.count(func(x exchange) bool { return x.method == "PUT" && x.status >= 500 }); n == 0 && len(pkg.Parts) >= 8 {
				t.Errorf("no storage 5xx among %d uploads", len(pkg.Parts))
			}
			if err := e.c.CloseBatchSession(e.ctx, bs.ReferenceNumber); err != nil {
				t.Fatal(err)
			}
			st, err := e.c.WaitSession(e.ctx, bs.ReferenceNumber, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status.Code != 200 || st.SuccessfulInvoiceCount != 12 {
				t.Fatalf("batch status %+v", st)
			}
			got := map[string]string{}
			err = e.c.ListSessionInvoices(e.ctx, bs.ReferenceNumber, false, func(inv SessionInvoice) error {
				if inv.Status.Code != 200 || !ValidKsefNumber(inv.KsefNumber) {
					return fmt.Errorf("invoice %s: %+v", inv.InvoiceFileName, inv.Status)
				}
				got[inv.InvoiceFileName] = inv.InvoiceHash
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(hashes, got); diff != "" {
				t.Fatalf("batch results (-want +got):\n%s", diff)
			}
			if n := e.rt.count(func(x exchange) bool { return x.method == "PUT" && x.authHeader }); n != 0 {
				t.Fatalf("%d part uploads carried Authorization", n)
			}
			if n := e.rt.count(func(x exchange) bool { return x.method == "PUT" && x.status == 201 }); n != len(pkg.Parts) {
				t.Fatalf("%d successful uploads for %d parts", n, len(pkg.Parts))
			}
		})
	}
}

// seedReceived seeds n invoices bought by testNIP, permanently stored one hour apart ending 3 h ago.
func seedReceived(t *testing.T, e *env, n int) map[string][]byte {
	t.Helper()
	var seeds []ksefsim.SeedInvoice
	end := e.clk.Now().Add(-3 * time.Hour)
	for i := range n {
		seeds = append(seeds, ksefsim.SeedInvoice{
			SellerNIP: "3861610227", BuyerNIP: testNIP,
			PermanentStorageDate: end.Add(-time.Duration(n-1-i) * time.Hour),
			InvoiceNumber:        fmt.Sprintf("R/%d", i),
		})
	}
	got, err := e.sim.Seed(seeds...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, s := range got {
		out[s.KsefNumber] = s.XML
	}
	return out
}

func TestExportTruncatedAndContinued(t *testing.T) {
	for _, comp := range []Compression{Zip, TarGz} {
		t.Run(string(comp), func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{ExportPartSize: 1000}, func(o *Options) { o.MaxRetries = 20 })
			want := seedReceived(t, e, 25)
			e.sim.SetExportTruncateAt(10)
			cursor := e.clk.Now().Add(-30 * 24 * time.Hour)
			got := map[string][]byte{}
			var metaCount int
			exports := 0
			for done := false; !done; {
				exports++
				if exports > 6 {
					t.Fatal("export never reached the HWM")
				}
				f := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage", From: cursor, RestrictToPermanentStorageHwmDate: true}}
				exp, err := e.c.StartExport(e.ctx, f, comp)
				if err != nil {
					t.Fatal(err)
				}
				st, err := e.c.WaitExport(e.ctx, exp, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if st.Status.Code != 200 || st.Package == nil {
					t.Fatalf("export status %+v", st.Status)
				}
				pkg := st.Package
				if exports == 1 && len(pkg.Parts) < 2 {
					t.Errorf("first package has %d parts, want several", len(pkg.Parts))
				}
				e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.3, OnlyPaths: []string{"/storage/"}})
				a, err := e.c.DownloadExport(e.ctx, exp, pkg, t.TempDir())
				e.sim.SetFaults(ksefsim.Faults{})
				if err != nil {
					t.Fatal(err)
				}
				metaCount += len(a.Metadata)
				err = a.Walk(func(name string, r io.Reader) error {
					b, err := io.ReadAll(r)
					got[strings.TrimSuffix(name, ".xml")] = b
					return err
				})
				a.Close()
				if err != nil {
					t.Fatal(err)
				}
				if pkg.IsTruncated {
					if pkg.LastPermanentStorageDate == nil {
						t.Fatal("truncated package without lastPermanentStorageDate")
					}
					cursor = *pkg.LastPermanentStorageDate
				} else {
					if pkg.PermanentStorageHwmDate == nil {
						t.Fatal("no permanentStorageHwmDate")
					}
					cursor = *pkg.PermanentStorageHwmDate
					done = true
				}
			}
			if exports < 3 {
				t.Errorf("25 invoices truncated at 10 took %d exports", exports)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("exported invoices (-want +got):\n%s", diff)
			}
			if metaCount < 25 {
				t.Errorf("metadata entries %d < 25", metaCount)
			}
			// a window with no invoices below the HWM: an empty package, an empty walk
			f0 := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage", From: e.clk.Now().Add(-time.Hour), RestrictToPermanentStorageHwmDate: true}}
			exp0, err := e.c.StartExport(e.ctx, f0, comp)
			if err != nil {
				t.Fatal(err)
			}
			st0, err := e.c.WaitExport(e.ctx, exp0, 2*time.Second)
			if err != nil || st0.Status.Code != 200 || st0.Package == nil || st0.Package.InvoiceCount != 0 {
				t.Fatalf("empty export: %+v %v", st0, err)
			}
			a0, err := e.c.DownloadExport(e.ctx, exp0, st0.Package, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := a0.Walk(func(name string, r io.Reader) error { return fmt.Errorf("unexpected entry %s", name) }); err != nil {
				t.Fatal(err)
			}
			a0.Close()
			// from beyond the HWM (which lags now): 420 (not an error for incremental sync) or 21183
			f := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage", From: e.clk.Now(), RestrictToPermanentStorageHwmDate: true}}
			exp, err := e.c.StartExport(e.ctx, f, comp)
			if err == nil {
				st, err := e.c.WaitExport(e.ctx, exp, 2*time.Second)
				if err != nil || st.Status.Code != 420 {
					t.Fatalf("export above HWM: %+v %v", st, err)
				}
			} else if api := (*APIError)(nil); !errors.As(err, &api) || !api.HasCode(21183) {
				t.Fatalf("export above HWM: %v", err)
			}
		})
	}
}

func TestMetadataPagingAndGetInvoice(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	want := seedReceived(t, e, 25)
	to := e.clk.Now()
	f := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage", From: e.clk.Now().Add(-7 * 24 * time.Hour), To: &to}}
	var got []string
	var hasMore []bool
	for page := 0; page < 5; page++ {
		p, err := e.c.QueryMetadata(e.ctx, f, page, 10, "Asc")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Invoices {
			got = append(got, m.KsefNumber)
			if m.Buyer.Identifier.Value != testNIP || m.Seller.Nip != "3861610227" || m.InvoiceHash == "" || m.Currency == "" {
				t.Fatalf("metadata %+v", m)
			}
		}
		hasMore = append(hasMore, p.HasMore)
		if !p.HasMore {
			break
		}
	}
	if diff := cmp.Diff([]bool{true, true, false}, hasMore); diff != "" {
		t.Errorf("hasMore per page (-want +got):\n%s", diff)
	}
	var wantNums []string
	for k := range want {
		wantNums = append(wantNums, k)
	}
	sort.Strings(wantNums)
	sortedGot := append([]string(nil), got...)
	sort.Strings(sortedGot)
	if diff := cmp.Diff(wantNums, sortedGot); diff != "" {
		t.Fatalf("metadata ksef numbers (-want +got):\n%s", diff)
	}
	xml, err := e.c.GetInvoice(e.ctx, got[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(xml, want[got[0]]) {
		t.Fatal("GetInvoice returned different bytes than seeded")
	}
	_, err = e.c.GetInvoice(e.ctx, "5265877635-20250826-0100001AF629-AF")
	var api *APIError
	if !errors.As(err, &api) || api.HTTPStatus >= 500 {
		t.Fatalf("GetInvoice(unknown) = %v", err)
	}
}

func TestRefreshLimitsAdopted(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "scaled", RateScale: 10}, nil)
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	got := e.c.pacer.limitsCopy()
	if got[GroupInvoiceSend].PerHour != 1800 || got[GroupSessionMisc].PerSecond != 100 {
		t.Fatalf("limits not adopted: %+v", got)
	}
	if _, ok := got[GroupAuth]; !ok {
		t.Fatal("auth group lost when adopting the server table")
	}
}

// TestLogsCarryNoSecrets logs at debug level through a full flow and checks no token appears,
// and that X-System-Warning headers are logged.
func TestLogsCarryNoSecrets(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, ksefsim.Options{}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	s := e.openOnline()
	if _, err := e.c.SendInvoice(e.ctx, s, e.invoice(), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(20 * time.Minute) // forces a refresh
	if err := e.c.CloseOnlineSession(e.ctx, s.ReferenceNumber); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "logged in") || !strings.Contains(out, s.ReferenceNumber) {
		t.Fatalf("expected login and session lines in the log:\n%s", out)
	}
	e.c.tokMu.Lock()
	secrets := []string{e.sim.Token(testNIP), e.c.access.Token, e.c.refresh.Token}
	e.c.tokMu.Unlock()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(out, sec) {
			t.Fatalf("log contains a secret")
		}
	}
}

func TestSystemWarningLogged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-System-Warning", "[W123]: Pole P_1M bedzie wymagane | [W124]: Druga zmiana")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	var logs syncBuffer
	c, err := New(Options{BaseURL: srv.URL + "/v2", Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.PublicKeys(context.Background())
	if err != nil || len(keys) != 0 {
		t.Fatalf("PublicKeys = %v, %v", keys, err)
	}
	out := logs.String()
	if !strings.Contains(out, "code=W123") || !strings.Contains(out, "code=W124") || !strings.Contains(out, "Druga zmiana") {
		t.Fatalf("warnings not logged:\n%s", out)
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer = testutil.LogBuffer

// TestConcurrentLazyLogin: many goroutines start on a fresh client; exactly one login happens.
func TestConcurrentLazyLogin(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.c.RefreshLimits(e.ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/token/redeem") }); n != 1 {
		t.Fatalf("%d logins for 8 concurrent first calls, want 1", n)
	}
}

func TestStorageErrorsRedactSignature(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.MaxRetries = 1 })
	// nothing listens on port 1: a transport error naming a signed URL
	_, err := e.c.DownloadUPO(e.ctx, "http://127.0.0.1:1/storage/upo/x?sig=SECRETSIG&exp=1")
	if err == nil || !IsRetriable(err) {
		t.Fatalf("DownloadUPO to a dead port = %v, want a retriable error", err)
	}
	if strings.Contains(err.Error(), "SECRETSIG") {
		t.Fatalf("error leaks the URL signature: %v", err)
	}
}

func TestListSessions(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, func(o *Options) { o.PageSize = 10 })
	want := map[string]bool{}
	for range 12 {
		s := e.openOnline()
		want[s.ReferenceNumber] = true
	}
	got := map[string]bool{}
	err := e.c.ListSessions(e.ctx, SessionListFilter{SessionType: "Online", Statuses: []string{"InProgress"}}, func(s SessionListItem) error {
		if s.Status.Code != 100 {
			return fmt.Errorf("session %s status %d", s.ReferenceNumber, s.Status.Code)
		}
		got[s.ReferenceNumber] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sessions (-want +got):\n%s", diff)
	}
}

// TestExportPollingFollowsTheExportsAge: a young export is asked about often, so one KSeF builds in
// 3 s is found within an eighth of its age (asking every 2 s found it after 4 s); an old one is asked
// about every interval, never more often, and a minute of polling stays within
// invoiceExportStatus's 60 a minute.
func TestExportPollingFollowsTheExportsAge(t *testing.T) {
	for _, tc := range []struct {
		building, latest time.Duration // how long KSeF builds the package; when we must have seen it
	}{
		{3 * time.Second, 3*time.Second + 3*time.Second/8},
		{60 * time.Second, 62 * time.Second},
	} {
		t.Run(tc.building.String(), func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{ProcessingDelay: tc.building}, nil)
			seedReceived(t, e, 3)
			f := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage",
				From: e.clk.Now().Add(-30 * 24 * time.Hour), RestrictToPermanentStorageHwmDate: true}}
			exp, err := e.c.StartExport(e.ctx, f, Zip)
			if err != nil {
				t.Fatal(err)
			}
			e.sim.WaitJobs() // the package is built; only the processing delay holds it back
			before := len(e.clk.Sleeps())
			st, err := e.c.WaitExport(e.ctx, exp, 2*time.Second)
			if err != nil || st.Status.Code != 200 {
				t.Fatalf("export: %+v %v", st, err)
			}
			sleeps := e.clk.Sleeps()[before:]
			var waited time.Duration
			for i, d := range sleeps {
				if d > 2*time.Second || (i > 0 && d < sleeps[i-1]) {
					t.Fatalf("poll waits %v: each at most the 2 s interval and none shorter than the one before", sleeps)
				}
				waited += d
			}
			if waited < tc.building || waited > tc.latest {
				t.Errorf("the export was seen after %v of waiting (%d polls), want %v to %v", waited, len(sleeps)+1, tc.building, tc.latest)
			}
			if perMinute := polledWithin(sleeps, time.Minute); perMinute > 60 {
				t.Errorf("%d status requests in the first minute, over invoiceExportStatus's 60", perMinute)
			}
		})
	}
}

// polledWithin counts the polls made in the first window of a wait made of sleeps (one poll before
// the first sleep and one after each).
func polledWithin(sleeps []time.Duration, window time.Duration) int {
	n, at := 1, time.Duration(0)
	for _, d := range sleeps {
		if at += d; at >= window {
			break
		}
		n++
	}
	return n
}

// TestContextLimits reads GET /limits/context: KSeF's defaults, then what the context was set to.
func TestContextLimits(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	l, err := e.c.ContextLimits(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := SessionLimits{MaxInvoiceSizeInMB: 1, MaxInvoiceWithAttachmentSizeInMB: 3, MaxInvoices: MaxBatchInvoices}
	if l.OnlineSession != want || l.BatchSession != want {
		t.Errorf("defaults: %+v, want %+v for both kinds", l, want)
	}
	e.sim.SetMaxSessionInvoices(testNIP, 3)
	if l, err = e.c.ContextLimits(e.ctx); err != nil || l.BatchSession.MaxInvoices != 3 || l.OnlineSession.MaxInvoices != 3 {
		t.Errorf("after lowering to 3: %+v, %v", l, err)
	}
}

// TestLostLoginAnswers: KSeF did a step of a login and its answer was lost (a gateway's 504 or a
// dropped connection), so the client's repeat is refused: a redeem with 21301 (tokens are issued
// only once), a start of the login with 21111 (its challenge is used). Neither says anything about
// the credentials. The client logs in anew at once; when even that login's answer is lost, the
// error is weather to retry, not a credentials problem for the administrator.
func TestLostLoginAnswers(t *testing.T) {
	for _, op := range []string{ksefsim.LoseRedeem, ksefsim.LoseAuthInit} {
		for _, how := range []string{ksefsim.LoseBy504, ksefsim.LoseByDrop} {
			t.Run(op+"/"+how, func(t *testing.T) { lostLoginAnswers(t, op, how) })
		}
	}
}

func lostLoginAnswers(t *testing.T, op, how string) {
	e := newEnv(t, ksefsim.Options{}, nil)
	challenges := func() int {
		return e.rt.count(func(x exchange) bool { return strings.HasSuffix(x.path, "/auth/challenge") })
	}
	if err := e.sim.LoseAnswers(op, 1, how); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatalf("login after one lost answer: %v", err)
	}
	if n := challenges(); n != 2 {
		t.Errorf("%d logins started, want 2 (the lost one and a new one)", n)
	}
	if err := e.c.RefreshLimits(e.ctx); err != nil {
		t.Fatalf("the new login's tokens do not work: %v", err)
	}

	if err := e.sim.LoseAnswers(op, 2, how); err != nil {
		t.Fatal(err)
	}
	err := e.c.Login(e.ctx)
	if err == nil || IsCredentialsProblem(err) || !IsRetriable(err) {
		t.Fatalf("login after two lost answers = %v (credentials problem %v), want an error to retry",
			err, IsCredentialsProblem(err))
	}
	if strings.Contains(err.Error(), "new token") {
		t.Errorf("the error sends the administrator after a new token: %v", err)
	}
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatalf("the next login: %v", err)
	}
}
