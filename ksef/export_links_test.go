package ksef

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// partHook is real HTTP that lets a test move time around the requests for export parts: before
// one reaches the simulator, and after one was served.
type partHook struct {
	base          http.RoundTripper
	before, after func()
}

func (h *partHook) RoundTrip(req *http.Request) (*http.Response, error) {
	part := strings.HasPrefix(req.URL.Path, "/storage/export/")
	if part && h.before != nil {
		h.before()
	}
	resp, err := h.base.RoundTrip(req)
	if part && err == nil && resp.StatusCode == http.StatusOK && h.after != nil {
		h.after()
	}
	return resp, err
}

// linkTTL is the simulator's export link lifetime in these tests; linkStep outlives it.
const (
	linkTTL  = 5 * time.Minute
	linkStep = linkTTL + time.Minute
)

// exportReceived runs one export of everything testNIP received in the last 30 days and waits for
// its package, which must come in at least minParts parts.
func exportReceived(t *testing.T, e *env, minParts int) (*Export, *ExportPackage) {
	t.Helper()
	f := QueryFilters{SubjectType: "Subject2", DateRange: DateRange{DateType: "PermanentStorage", From: e.clk.Now().Add(-30 * 24 * time.Hour),
		RestrictToPermanentStorageHwmDate: true}}
	exp, err := e.c.StartExport(e.ctx, f, Zip)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.c.WaitExport(e.ctx, exp, 2*time.Second)
	if err != nil || st.Status.Code != 200 || st.Package == nil {
		t.Fatalf("export: %+v %v", st, err)
	}
	if n := len(st.Package.Parts); n < minParts {
		t.Fatalf("package of %d parts, want at least %d", n, minParts)
	}
	return exp, st.Package
}

// exportForLinks seeds invoices and exports them in several parts.
func exportForLinks(t *testing.T, e *env) (want map[string][]byte, exp *Export, pkg *ExportPackage) {
	t.Helper()
	want = seedReceived(t, e, 12)
	exp, pkg = exportReceived(t, e, 3)
	return want, exp, pkg
}

// countCalls counts the exchanges with method whose path starts with prefix and, if status is not
// 0, that were answered status.
func countCalls(e *env, method, prefix string, status int) int {
	return e.rt.count(func(x exchange) bool {
		return x.method == method && strings.HasPrefix(x.path, prefix) && (status == 0 || x.status == status)
	})
}

// assertArchiveHolds fails unless the archive holds exactly want's invoices, byte for byte.
func assertArchiveHolds(t *testing.T, a *ExportArchive, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	if err := a.Walk(func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[strings.TrimSuffix(name, ".xml")] = b
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(a.Metadata) != len(want) {
		t.Fatalf("%d invoices and %d metadata records, want %d", len(got), len(a.Metadata), len(want))
	}
	for n, b := range want {
		if !bytes.Equal(got[n], b) {
			t.Fatalf("invoice %s differs from KSeF's bytes", n)
		}
	}
}

// TestExportLinksReadAgainWhenExpiring: KSeF's link to an export part lives about an hour from the
// status read that made it (open-api.json InvoicePackagePart.expirationDate). When the download
// of the parts outlasts it, the client reads the export's status again for fresh links, before
// using a link about to expire (no refused request), or when storage refuses one (its clock ahead
// of ours). The package arrives from the one export, with no second export started.
func TestExportLinksReadAgainWhenExpiring(t *testing.T) {
	tests := []struct {
		name string
		// move is called after each part was served: time passes beyond the links' life
		move    func(e *env)
		refused int // storage refusals expected: one a part after the first
	}{
		{"expiry seen by the client", func(e *env) { e.clk.Advance(linkStep) }, 0},
		{"refused by storage", func(e *env) { e.skew.Add(int64(linkStep)) }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ksefsim.Options{ExportPartSize: 1000, ExportPartURLTTL: linkTTL}, nil)
			want, exp, pkg := exportForLinks(t, e)
			e.rt.base = &partHook{base: e.rt.base, after: func() { tt.move(e) }}
			statusPath := "/v2/invoices/exports/" + exp.ReferenceNumber
			statusBefore := countCalls(e, http.MethodGet, statusPath, http.StatusOK)
			a, err := e.c.DownloadExport(e.ctx, exp, pkg, t.TempDir())
			if err != nil {
				t.Fatalf("download across expiring links: %v", err)
			}
			defer a.Close()
			assertArchiveHolds(t, a, want)
			later := len(pkg.Parts) - 1
			refused := tt.refused
			if refused < 0 {
				refused = later
			}
			if n := countCalls(e, http.MethodGet, "/storage/export/", http.StatusForbidden); n != refused {
				t.Errorf("%d part requests refused, want %d", n, refused)
			}
			if n := countCalls(e, http.MethodGet, statusPath, http.StatusOK) - statusBefore; n != later {
				t.Errorf("%d status reads during the download, want %d (one for each part after the first)", n, later)
			}
			if n := countCalls(e, http.MethodPost, "/v2/invoices/exports", 0); n != 1 {
				t.Errorf("%d exports started, want 1", n)
			}
		})
	}
}

// TestExportLinksRefreshBounded: when every link KSeF hands out is already dead at storage, the
// download gives up with storage's 403 after one fresh status read, instead of asking forever.
func TestExportLinksRefreshBounded(t *testing.T) {
	e := newEnv(t, ksefsim.Options{ExportPartSize: 1000, ExportPartURLTTL: linkTTL}, nil)
	_, exp, pkg := exportForLinks(t, e)
	e.rt.base = &partHook{base: e.rt.base, before: func() { e.skew.Add(int64(linkStep)) }}
	statusPath := "/v2/invoices/exports/" + exp.ReferenceNumber
	statusBefore := countCalls(e, http.MethodGet, statusPath, http.StatusOK)
	_, err := e.c.DownloadExport(e.ctx, exp, pkg, t.TempDir())
	var api *APIError
	if !errors.As(err, &api) || api.HTTPStatus != http.StatusForbidden {
		t.Fatalf("dead links: %v, want storage's 403", err)
	}
	if n := countCalls(e, http.MethodGet, statusPath, http.StatusOK) - statusBefore; n != 1 {
		t.Errorf("%d status reads, want 1", n)
	}
	if n := countCalls(e, http.MethodGet, "/storage/export/", 0); n != 2 {
		t.Errorf("%d part requests, want 2 (the first link and the fresh one)", n)
	}
}

// TestExportLinkLivesAnHourFromStatusRead: by default the simulator's export part links expire one
// hour after the status read that made them, as KSeF's do (open-api.json InvoicePackagePart.url:
// "Link jest generowany dynamicznie w momencie odpytania o status operacji eksportu"), not at the
// UPO links' 72 hours; a later read gives a later expiry.
func TestExportLinkLivesAnHourFromStatusRead(t *testing.T) {
	e := newEnv(t, ksefsim.Options{ExportPartSize: 1000}, nil)
	_, exp, _ := exportForLinks(t, e)
	for range 2 {
		e.clk.Advance(30 * time.Minute)
		st, err := e.c.ExportStatus(e.ctx, exp.ReferenceNumber)
		if err != nil || st.Package == nil {
			t.Fatalf("export status: %+v %v", st, err)
		}
		want := e.clk.Now().Add(time.Hour)
		for _, p := range st.Package.Parts {
			if d := p.ExpirationDate.Sub(want); d < -time.Second || d > time.Second {
				t.Fatalf("part %d expires %s, want an hour after the status read (%s)", p.OrdinalNumber, p.ExpirationDate, want)
			}
		}
	}
}
