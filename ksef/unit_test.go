package ksef

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

//go:embed testdata/invoice-template_v3.xml
var invoiceTemplate string

// sampleInvoice fills the FA(3) template (MIT, see testdata/README.md).
func sampleInvoice(nip, number string, issue time.Time) []byte {
	r := strings.NewReplacer("#nip#", nip, "#invoicing_date#", issue.Format("2006-01-02"), "#invoice_number#", number)
	return []byte(r.Replace(invoiceTemplate))
}

// fakeClock advances instantly when asked to sleep and records every sleep.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.sleeps = append(f.sleeps, d)
	f.mu.Unlock()
	runtime.Gosched()
	return nil
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func TestParseErrorResponse(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   error
	}{
		{
			name: "legacy exception", status: 400,
			body: `{"exception":{"exceptionDetailList":[{"exceptionCode":21405,"exceptionDescription":"Błąd walidacji danych wejściowych.","details":["invoiceHash is required"]}],"referenceNumber":"20250101-EE-0000000000-0000000000-00","serviceCode":"x","timestamp":"2025-01-01T00:00:00Z"}}`,
			want: &APIError{HTTPStatus: 400, TraceID: "20250101-EE-0000000000-0000000000-00",
				Codes: []ErrorDetail{{Code: 21405, Description: "Błąd walidacji danych wejściowych.", Details: []string{"invoiceHash is required"}}}},
		},
		{
			name: "problem details 400", status: 400,
			body: `{"title":"Bad Request","status":400,"instance":"/v2/x","detail":"bad","errors":[{"code":21470,"description":"key"}],"timestamp":"2025-01-01T00:00:00Z","traceId":"abc"}`,
			want: &APIError{HTTPStatus: 400, Title: "Bad Request", Detail: "bad", TraceID: "abc", Codes: []ErrorDetail{{Code: 21470, Description: "key"}}},
		},
		{
			name: "403 reason", status: 403,
			body: `{"title":"Forbidden","status":403,"detail":"no","reasonCode":"missing-permissions","timestamp":"2025-01-01T00:00:00Z"}`,
			want: &APIError{HTTPStatus: 403, Title: "Forbidden", Detail: "no", ReasonCode: "missing-permissions"},
		},
		{
			// CIRFMF/ksef-api #833, production's words.
			name: "403 missing permissions named", status: 403,
			body: `{"title":"Forbidden","status":403,"detail":"Brak wymaganych uprawnień.","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceWrite"],"presentPermissions":["InvoiceRead"]},"timestamp":"2026-01-01T00:00:00Z"}`,
			want: &APIError{HTTPStatus: 403, Title: "Forbidden", Detail: "Brak wymaganych uprawnień.", ReasonCode: "missing-permissions",
				Required: []string{"InvoiceWrite"}, Present: []string{"InvoiceRead"}},
		},
		{
			name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"17"}},
			body: `{"status":{"code":429,"description":"Too Many Requests","details":["x"]}}`,
			want: &RateLimitError{RetryAfter: 17 * time.Second},
		},
		{name: "429 no header", status: 429, want: &RateLimitError{}},
		{
			// more than a day is capped at one, not read as nothing (a retry after a second)
			name: "429 longer than a day", status: 429, header: http.Header{"Retry-After": {"90000"}},
			want: &RateLimitError{RetryAfter: 24 * time.Hour},
		},
		{name: "429 absurd", status: 429, header: http.Header{"Retry-After": {"99999999999999"}}, want: &RateLimitError{RetryAfter: 24 * time.Hour}},
		{name: "429 negative", status: 429, header: http.Header{"Retry-After": {"-5"}}, want: &RateLimitError{}},
		{
			name: "502 html", status: 502, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
			body: "<html><head><title>502</title><style>p{}</style></head><body><h1>Bad gateway</h1></body></html>",
			want: &UnavailableError{HTTPStatus: 502, ContentType: "text/html", Excerpt: "502 Bad gateway"},
		},
		{name: "empty 500", status: 500, want: &UnavailableError{HTTPStatus: 500}},
		{
			name: "503 with a Retry-After over a day", status: 503, header: http.Header{"Retry-After": {"90000"}}, body: "Service Unavailable",
			want: &UnavailableError{HTTPStatus: 503, Excerpt: "Service Unavailable"},
		},
		{
			name: "503 with Retry-After", status: 503, header: http.Header{"Retry-After": {"7"}}, body: "Service Unavailable",
			want: &UnavailableError{HTTPStatus: 503, Excerpt: "Service Unavailable", RetryAfter: 7 * time.Second},
		},
		{
			name: "KSeF's own JSON 500", status: 500,
			body: `{"exception":{"exceptionDetailList":[{"exceptionCode":0,"exceptionDescription":"Nieznany błąd"}]}}`,
			want: &APIError{HTTPStatus: 500, Codes: []ErrorDetail{{Code: 0, Description: "Nieznany błąd"}}},
		},
		{
			// CIRFMF/ksef-api #761: the firewall's answer on /auth/token/refresh
			name: "WAF 403", status: 403,
			body: `{"title":"Request blocked","detail":"","status":403,"security":{"clientIp":"192.0.2.1","incidentId":"inc-4711"}}`,
			want: &BlockedError{HTTPStatus: 403, IncidentID: "inc-4711"},
		},
		{
			name: "HTML 403", status: 403, header: http.Header{"Content-Type": {"text/html"}}, body: "<html>Access denied</html>",
			want: &BlockedError{HTTPStatus: 403},
		},
		{
			// Azure Blob Storage refusing an expired pre-signed link: a refusal, not the firewall
			name: "storage 403 AuthenticationFailed", status: 403, header: http.Header{"Content-Type": {"application/xml"}},
			body: "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:5e6a0c1e-701e-0060-39f6-5b2c3f000000\nTime:2026-11-20T10:00:00.0000000Z</Message><AuthenticationErrorDetail>Signed expiry time [Fri, 20 Nov 2026 09:00:00 GMT] must be after signed start time [Fri, 20 Nov 2026 10:00:00 GMT]</AuthenticationErrorDetail></Error>",
			want: &APIError{HTTPStatus: 403, Title: "AuthenticationFailed", Detail: "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. (Signed expiry time [Fri, 20 Nov 2026 09:00:00 GMT] must be after signed start time [Fri, 20 Nov 2026 10:00:00 GMT])"},
		},
		{
			name: "storage 503 ServerBusy stays weather", status: 503, header: http.Header{"Content-Type": {"application/xml"}},
			body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>`,
			want: &UnavailableError{HTTPStatus: 503, ContentType: "application/xml", Excerpt: "ServerBusy The server is busy."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			got := ParseErrorResponse(tt.status, h, []byte(tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseErrorResponse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsRetriable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&RateLimitError{RetryAfter: time.Second}, true},
		{fmt.Errorf("wrapped: %w", &APIError{HTTPStatus: 503}), true},
		{&APIError{HTTPStatus: 400, Codes: []ErrorDetail{{Code: 21405}}}, false},
		{&AuthError{Code: 550}, true},
		{&AuthError{Code: 450}, false},
		{fmt.Errorf("x: %w", errTransport), true},
		{context.Canceled, false},
		{errors.New("plain"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsRetriable(tt.err); got != tt.want {
			t.Errorf("IsRetriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestAPIErrorHasCode(t *testing.T) {
	e := &APIError{HTTPStatus: 400, Codes: []ErrorDetail{{Code: 21405}, {Code: 21470}}}
	if !e.HasCode(21470) || e.HasCode(21111) {
		t.Fatalf("HasCode wrong for %v", e)
	}
	var target *APIError
	if !errors.As(fmt.Errorf("op: %w", e), &target) {
		t.Fatal("errors.As failed")
	}
}

func TestParseSystemWarning(t *testing.T) {
	got := parseSystemWarning("[W001]: Pole X bedzie wymagane | [W002]: Inna zmiana")
	want := [][2]string{{"W001", "Pole X bedzie wymagane"}, {"W002", "Inna zmiana"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGroupFor(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"POST", "/sessions/online", GroupOnlineSession},
		{"POST", "/sessions/online/R/close", GroupOnlineSession},
		{"POST", "/sessions/online/R/invoices", GroupInvoiceSend},
		{"POST", "/sessions/batch", GroupBatchSession},
		{"POST", "/sessions/batch/R/close", GroupBatchSession},
		{"GET", "/sessions", GroupSessionList},
		{"GET", "/sessions/R", GroupSessionMisc},
		{"GET", "/sessions/R/invoices", GroupSessionInvoiceList},
		{"GET", "/sessions/R/invoices/failed", GroupSessionInvoiceList},
		{"GET", "/sessions/R/invoices/I", GroupInvoiceStatus},
		{"GET", "/sessions/R/invoices/I/upo", GroupSessionMisc},
		{"GET", "/sessions/R/invoices/ksef/K/upo", GroupSessionMisc},
		{"GET", "/sessions/R/upo/U", GroupSessionMisc},
		{"POST", "/invoices/query/metadata", GroupInvoiceMetadata},
		{"POST", "/invoices/exports", GroupInvoiceExport},
		{"GET", "/invoices/exports/E", GroupInvoiceExportStatus},
		{"GET", "/invoices/ksef/K", GroupInvoiceDownload},
		{"POST", "/auth/challenge", GroupAuth},
		{"GET", "/auth/A", GroupAuth},
		{"POST", "/auth/token/refresh", GroupAuth},
		{"DELETE", "/auth/sessions/current", GroupOther},
		{"GET", "/security/public-key-certificates", GroupAuth},
		{"GET", "/rate-limits", GroupOther},
	}
	for _, tt := range tests {
		if got := groupFor(tt.method, tt.path); got != tt.want {
			t.Errorf("groupFor(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestPacerWindows drives 200 calls through a 10/s, 30/min, 180/h budget on a fake clock and
// checks that no sliding window ever holds more than 90 % of its limit.
func TestPacerWindows(t *testing.T) {
	clk := newFakeClock()
	p := newPacer(clk, RateTable{"g": {PerSecond: 10, PerMinute: 30, PerHour: 180}})
	var sent []time.Time
	for range 200 {
		if err := p.wait(context.Background(), "g"); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, clk.Now())
	}
	check := func(w time.Duration, max int) {
		for i := range sent {
			n := 0
			for j := i; j < len(sent) && sent[j].Sub(sent[i]) < w; j++ {
				n++
			}
			if n > max {
				t.Fatalf("%d calls within %s starting at call %d, budget %d", n, w, i, max)
			}
		}
	}
	check(time.Second, 9)
	check(time.Minute, 27)
	check(time.Hour, 162)
	// the pacer must not be needlessly slow: 162 per hour → 200 calls need just over one hour
	if span := sent[len(sent)-1].Sub(sent[0]); span > 2*time.Hour {
		t.Errorf("200 calls took %s of clock time", span)
	}
}

func TestPacerCancelled(t *testing.T) {
	clk := newFakeClock()
	p := newPacer(clk, RateTable{"g": {PerSecond: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.wait(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.wait(ctx, "g"); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on cancelled ctx = %v", err)
	}
}

func TestKsefNumber(t *testing.T) {
	valid := []string{
		"5265877635-20250826-0100001AF629-AF", "5265877635-20250626-010080DD2B5E-26",
		"5265877635-20250916-010040741B3E-46", "5265877635-20250916-0200A0D6723E-C2",
		"5555555555-20250828-010080615740-E4",
		"5265877635-20250826-0100001-AF629-AF"[:0] + "5265877635-20250826-010000-1AF629-AF", // legacy 36
	}
	for _, n := range valid {
		if !ValidKsefNumber(n) {
			t.Errorf("ValidKsefNumber(%s) = false", n)
		}
	}
	invalid := []string{
		"5265877635-20250826-0100001AF629-AE", // CRC
		"5265877635-20251326-0100001AF629-AF", // month
		"0265877635-20250826-0100001AF629-AF", // NIP shape
		"5265877635-20250826-0100001af629-AF", // lower hex
		"", "5265877635",
	}
	for _, n := range invalid {
		if ValidKsefNumber(n) {
			t.Errorf("ValidKsefNumber(%s) = true", n)
		}
	}
	if got := KsefNumberCRC("5265877635-20250826-0100001AF629"); got != "AF" {
		t.Errorf("KsefNumberCRC = %s, want AF", got)
	}
}

func TestQRCodeI(t *testing.T) {
	xml := []byte("<Faktura/>")
	sum := sha256.Sum256(xml)
	got := QRCodeI("https://qr-test.ksef.mf.gov.pl/", "1111111111", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), InvoiceSHA256(xml))
	want := "https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/" + base64.RawURLEncoding.EncodeToString(sum[:])
	if got != want {
		t.Errorf("QRCodeI = %s, want %s", got, want)
	}
	if strings.ContainsAny(got[len("https://"):], "+=") {
		t.Errorf("QRCodeI must use unpadded base64url: %s", got)
	}
}

func TestEnvironments(t *testing.T) {
	for env, want := range map[string]string{"test": "https://api-test.ksef.mf.gov.pl/v2", "demo": "https://api-demo.ksef.mf.gov.pl/v2", "prod": "https://api.ksef.mf.gov.pl/v2"} {
		if got, err := EnvironmentURL(env); err != nil || got != want {
			t.Errorf("EnvironmentURL(%s) = %s, %v", env, got, err)
		}
	}
	if got, _ := QRBaseURL("prod"); got != "https://qr.ksef.mf.gov.pl" {
		t.Errorf("QRBaseURL(prod) = %s", got)
	}
	if _, err := EnvironmentURL("staging"); err == nil {
		t.Error("EnvironmentURL(staging) succeeded")
	}
}

func TestCBCStreamMatchesOneShot(t *testing.T) {
	k, err := newSymKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, 15, 16, 17, cbcChunk - 1, cbcChunk, cbcChunk + 16, 3*cbcChunk + 5} {
		plain := bytes.Repeat([]byte("abcdefghijklmnopq"), size/17+1)[:size]
		want, err := encryptCBC(k, plain)
		if err != nil {
			t.Fatal(err)
		}
		var enc bytes.Buffer
		w, _ := newCBCWriter(k, &enc, true)
		writeInPieces(t, w, plain)
		if !bytes.Equal(enc.Bytes(), want) {
			t.Fatalf("size %d: streamed ciphertext differs", size)
		}
		if len(want) != size+16-size%16 {
			t.Fatalf("size %d: ciphertext %d bytes, IV must not be prepended", size, len(want))
		}
		var dec bytes.Buffer
		d, _ := newCBCWriter(k, &dec, false)
		writeInPieces(t, d, want)
		if !bytes.Equal(dec.Bytes(), plain) {
			t.Fatalf("size %d: round trip differs", size)
		}
	}
	// Two blocks whose plaintext ends in 0x00, which is never a valid PKCS#7
	// pad byte. (Fixed bytes under a random key decrypt to a valid pad about
	// once in 256 runs, which made this test flaky in CI.)
	badPlain := bytes.Repeat([]byte{7}, 32)
	badPlain[31] = 0
	block, err := aes.NewCipher(k.key)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, len(badPlain))
	cipher.NewCBCEncrypter(block, k.iv).CryptBlocks(garbage, badPlain)
	var sink bytes.Buffer
	d, _ := newCBCWriter(k, &sink, false)
	d.Write(garbage)
	if err := d.Close(); err == nil {
		t.Error("ciphertext with an invalid pad byte decrypted without a padding error")
	}
}

func writeInPieces(t *testing.T, w io.WriteCloser, data []byte) {
	t.Helper()
	for i := 0; i < len(data); {
		n := min(len(data)-i, 1+i%7001)
		if _, err := w.Write(data[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchBuilderParts builds a package, decrypts its parts back and checks hashes and content.
func TestBatchBuilderParts(t *testing.T) {
	for _, comp := range []Compression{Zip, TarGz} {
		t.Run(string(comp), func(t *testing.T) {
			dir := t.TempDir()
			b, err := NewBatchBuilder(dir, comp, 1024)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{}
			for i := range 20 {
				name := fmt.Sprintf("faktura_%d.xml", i)
				want[name] = sampleInvoice("5265877635", fmt.Sprint(i), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
				if err := b.Add(name, want[name]); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Add("faktura_0.xml", nil); err == nil {
				t.Error("duplicate name accepted")
			}
			if err := b.Add("../x.xml", nil); err == nil {
				t.Error("path traversal name accepted")
			}
			pkg, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if len(pkg.Parts) < 3 || pkg.InvoiceCount != 20 {
				t.Fatalf("parts=%d invoices=%d", len(pkg.Parts), pkg.InvoiceCount)
			}
			var archive bytes.Buffer
			for _, p := range pkg.Parts {
				enc, err := os.ReadFile(p.Path)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(enc)) != p.FileSize || hashB64(enc) != p.FileHash {
					t.Fatalf("part %d size/hash mismatch", p.OrdinalNumber)
				}
				d, _ := newCBCWriter(pkg.key, &archive, false)
				d.Write(enc)
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if int64(archive.Len()) != pkg.FileSize || hashB64(archive.Bytes()) != pkg.FileHash {
				t.Fatal("joined parts do not match the declared archive")
			}
			path := filepath.Join(dir, "joined")
			os.WriteFile(path, archive.Bytes(), 0o600)
			a := &ExportArchive{path: path, comp: comp}
			got := map[string][]byte{}
			if err := a.Walk(func(name string, r io.Reader) error {
				b, err := io.ReadAll(r)
				got[name] = b
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("archive content (-want +got):\n%s", diff)
			}
			if err := pkg.Remove(); err != nil {
				t.Fatal(err)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 1 { // only "joined"
				t.Errorf("temp files left behind: %v", left)
			}
		})
	}
}

type entry struct {
	name string
	data []byte
	typ  byte // tar only
}

// writeArchive writes entries as an export archive of the given compression.
func writeArchive(t testing.TB, comp Compression, path string, entries []entry) {
	t.Helper()
	if comp == Zip {
		writeZip(t, path, entries)
	} else {
		writeTarGz(t, path, entries)
	}
}

func writeZip(t testing.TB, path string, entries []entry) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	os.WriteFile(path, buf.Bytes(), 0o600)
}

func writeTarGz(t testing.TB, path string, entries []entry) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.data))}
		if typ == tar.TypeSymlink {
			hdr.Size, hdr.Linkname = 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	gz.Close()
	os.WriteFile(path, buf.Bytes(), 0o600)
}

func TestArchiveGuards(t *testing.T) {
	small := []byte("<Faktura/>")
	tests := []struct {
		name    string
		entries []entry
		limits  ArchiveLimits
		tarOnly bool
	}{
		{name: "parent dir", entries: []entry{{name: "../evil.xml", data: small}}},
		{name: "subdir", entries: []entry{{name: "a/b.xml", data: small}}},
		{name: "backslash", entries: []entry{{name: `..\evil.xml`, data: small}}},
		{name: "absolute", entries: []entry{{name: "/etc/evil.xml", data: small}}},
		{name: "not xml", entries: []entry{{name: "run.exe", data: small}}},
		{name: "entry too big", entries: []entry{{name: "a.xml", data: bytes.Repeat([]byte("x"), 2000)}}, limits: ArchiveLimits{MaxEntrySize: 1000}},
		{name: "too many", entries: []entry{{name: "a.xml", data: small}, {name: "b.xml", data: small}, {name: "c.xml", data: small}}, limits: ArchiveLimits{MaxEntries: 2}},
		{name: "total too big", entries: []entry{{name: "a.xml", data: bytes.Repeat([]byte("x"), 600)}, {name: "b.xml", data: bytes.Repeat([]byte("x"), 600)}}, limits: ArchiveLimits{MaxTotalSize: 1000}},
		{name: "symlink", entries: []entry{{name: "a.xml", typ: tar.TypeSymlink}}, tarOnly: true},
	}
	for _, tt := range tests {
		for _, comp := range []Compression{Zip, TarGz} {
			if tt.tarOnly && comp == Zip {
				continue
			}
			t.Run(tt.name+"/"+string(comp), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "a")
				writeArchive(t, comp, path, tt.entries)
				a := &ExportArchive{path: path, comp: comp, Limits: tt.limits}
				err := a.Walk(func(name string, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
				if !errors.Is(err, ErrArchiveRejected) {
					t.Fatalf("Walk = %v, want ErrArchiveRejected", err)
				}
			})
		}
	}
	// an invoice as large as a seller's raised KSeF limit allows (10 MB with attachments) passes the
	// default limits: rejecting it rejected the whole package in every pull cycle
	for _, comp := range []Compression{Zip, TarGz} {
		path := filepath.Join(t.TempDir(), "large")
		big := append([]byte("<Faktura>"), bytes.Repeat([]byte("x"), 10_000_000)...)
		writeArchive(t, comp, path, []entry{{name: "5265877635-20250826-0100001AF629-AF.xml", data: big}})
		a := &ExportArchive{path: path, comp: comp}
		var got int64
		err := a.Walk(func(name string, r io.Reader) error { n, err := io.Copy(io.Discard, r); got += n; return err })
		if err != nil || got != int64(len(big)) {
			t.Errorf("%s: a 10 MB invoice: Walk = %v after %d bytes, want all %d", comp, err, got, len(big))
		}
	}
	// a good archive passes and yields metadata
	for _, comp := range []Compression{Zip, TarGz} {
		path := filepath.Join(t.TempDir(), "good")
		meta := []byte(`{"invoices":[{"ksefNumber":"5265877635-20250826-0100001AF629-AF","invoiceNumber":"F/1","issueDate":"2025-08-26","netAmount":1.5}]}`)
		ents := []entry{{name: "5265877635-20250826-0100001AF629-AF.xml", data: small}, {name: metadataEntry, data: meta}}
		writeArchive(t, comp, path, ents)
		a, err := openArchive(path, comp, ArchiveLimits{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		if err := a.Walk(func(name string, r io.Reader) error { names = append(names, name); return nil }); err != nil {
			t.Fatal(err)
		}
		sort.Strings(names)
		if diff := cmp.Diff([]string{"5265877635-20250826-0100001AF629-AF.xml"}, names); diff != "" {
			t.Errorf("%s names (-want +got):\n%s", comp, diff)
		}
		if len(a.Metadata) != 1 {
			t.Fatalf("%s metadata = %+v", comp, a.Metadata)
		}
		if m, err := a.Metadata[0].Decode(); err != nil || m.InvoiceNumber != "F/1" || m.NetAmount != 1.5 {
			t.Errorf("%s metadata = %+v %v", comp, m, err)
		}
		// the record is kept as sent, with what the pull needs before it reads the invoices
		rec := a.Metadata[0]
		if rec.KsefNumber != "5265877635-20250826-0100001AF629-AF" || !rec.PermanentStorageDate.IsZero() || string(rec.Raw) != strings.TrimSuffix(strings.TrimPrefix(string(meta), `{"invoices":[`), "]}") {
			t.Errorf("%s record = %q %v %s", comp, rec.KsefNumber, rec.PermanentStorageDate, rec.Raw)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Close left %s", path)
		}
	}
}

func FuzzParseErrorResponse(f *testing.F) {
	f.Add(400, "", []byte(`{"exception":{"exceptionDetailList":[{"exceptionCode":21405,"exceptionDescription":"x","details":["a"]}]}}`))
	f.Add(400, "", []byte(`{"title":"t","status":400,"errors":[{"code":1,"description":"d","details":null}],"traceId":"x"}`))
	f.Add(429, "5", []byte(`{"status":{"code":429,"description":"Too Many Requests"}}`))
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", []byte{})
	f.Add(503, "", []byte("\xff\xfe<html>"))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		err := ParseErrorResponse(status, http.Header{"Retry-After": {retryAfter}}, body)
		if err == nil {
			t.Fatal("nil error")
		}
		_ = err.Error()
		var rl *RateLimitError
		var api *APIError
		var unavail *UnavailableError
		var blocked *BlockedError
		switch {
		case errors.As(err, &rl):
			if status != 429 || rl.RetryAfter < 0 {
				t.Fatalf("RateLimitError for status %d: %+v", status, rl)
			}
		case errors.As(err, &unavail):
			if unavail.HTTPStatus != status || len(unavail.Excerpt) > 4*maxErrorText || !IsTransient(err) {
				t.Fatalf("bad UnavailableError %+v", unavail)
			}
		case errors.As(err, &blocked):
			if status != 403 || !IsTransient(err) {
				t.Fatalf("BlockedError for status %d", status)
			}
		case errors.As(err, &api):
			if api.HTTPStatus != status || len(api.Detail) > 4*maxErrorText {
				t.Fatalf("bad APIError %+v", api)
			}
		default:
			t.Fatalf("untyped error %T", err)
		}
	})
}

func FuzzArchiveWalk(f *testing.F) {
	dir := f.TempDir()
	seed := func(comp Compression, ents []entry) {
		p := filepath.Join(dir, "seed")
		writeArchive(f, comp, p, ents)
		b, _ := os.ReadFile(p)
		f.Add(comp == TarGz, b)
	}
	seed(Zip, []entry{{name: "a.xml", data: []byte("<a/>")}, {name: metadataEntry, data: []byte(`{"invoices":[]}`)}})
	seed(TarGz, []entry{{name: "a.xml", data: []byte("<a/>")}, {name: "../b.xml", data: []byte("<b/>")}})
	seed(Zip, []entry{{name: "x/../../y.xml", data: []byte("y")}})
	f.Fuzz(func(t *testing.T, tarGz bool, data []byte) {
		path := filepath.Join(dir, "input") // one file per worker process, rewritten each run
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		comp := Zip
		if tarGz {
			comp = TarGz
		}
		lim := ArchiveLimits{MaxEntries: 50, MaxEntrySize: 1 << 16, MaxTotalSize: 1 << 20}
		a, err := openArchive(path, comp, lim)
		if err != nil {
			return
		}
		var total int64
		_ = a.Walk(func(name string, r io.Reader) error {
			if validEntryName(name) != nil {
				t.Fatalf("unsafe name %q reached the callback", name)
			}
			n, err := io.Copy(io.Discard, r)
			total += n
			if n > lim.MaxEntrySize {
				t.Fatalf("entry %q yielded %d bytes", name, n)
			}
			return err
		})
		if total > lim.MaxTotalSize {
			t.Fatalf("walk yielded %d bytes", total)
		}
	})
}

// FuzzReadMetadataRecords: reading _metadata.json record by record accepts, refuses and yields
// exactly what decoding it whole into struct{ Invoices []json.RawMessage } did.
func FuzzReadMetadataRecords(f *testing.F) {
	for _, s := range []string{
		`{"invoices":[{"ksefNumber":"A","x":[1,{"y":null}]}, {"ksefNumber":"B"} ]}`,
		` { "other" : {"invoices":[1]}, "invoices" : [ null , 1.50, "s", [] ] , "more": true } trailing`,
		`{"invoices":[{"a":1}],"INVOICES":[{"b":2}]}`, `{"invoices":[{"a":1}],"invoices":null}`,
		`{"invoices":[{"a":1}],"invoices":[]}`, `{"invoiceſ":[{"a":1}]}`, `null`, `{}`, `[]`, `"x"`, ``,
		`{"invoices":{}}`, `{"invoices":"x"}`, `{"invoices":[1,]}`, `{"invoices":[1]`, `{"invoices":[1] "a":2}`,
		`{"invoices":[{"a":1}]}}`, "\ufeff{}", `{"a":1e999,"invoices":[-0]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole struct {
			Invoices []json.RawMessage `json:"invoices"`
		}
		wantErr := json.NewDecoder(bytes.NewReader(data)).Decode(&whole)
		got, err := readMetadataRecords(bytes.NewReader(data))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, decoding it whole: %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(whole.Invoices) {
			t.Fatalf("%q: %d records, decoding it whole: %d", data, len(got), len(whole.Invoices))
		}
		for i := range got {
			if !bytes.Equal(got[i], whole.Invoices[i]) {
				t.Fatalf("%q: record %d is %q, decoding it whole: %q", data, i, got[i], whole.Invoices[i])
			}
		}
	})
}

func BenchmarkEncryptInvoice(b *testing.B) {
	inv := sampleInvoice("5265877635", "1", time.Now())
	k, _ := newSymKey()
	b.SetBytes(int64(len(inv)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := encryptCBC(k, inv)
		if err != nil {
			b.Fatal(err)
		}
		_ = hashB64(inv)
		_ = hashB64(enc)
	}
}

// BenchmarkBatchPackage archives, splits and encrypts n invoices; peak-heap-MB (HeapAlloc sampled
// from runtime.MemStats during the run, garbage included) stays far below the archive size because
// the archive is streamed to disk. What grows with n is per-entry bookkeeping only (the ZIP central
// directory and the duplicate-name set, a few hundred bytes per invoice).
func BenchmarkBatchPackage(b *testing.B) {
	for _, tc := range []struct {
		comp Compression
		n    int
	}{{Zip, 1000}, {Zip, 10000}, {TarGz, 1000}, {TarGz, 10000}} {
		n := tc.n
		b.Run(fmt.Sprintf("%s-%dk", tc.comp, n/1000), func(b *testing.B) {
			invs := make([][]byte, 64)
			for i := range invs {
				invs[i] = sampleInvoice("5265877635", fmt.Sprint(i), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
			}
			b.ReportAllocs()
			var raw int64
			for i := range n {
				raw += int64(len(invs[i%len(invs)]))
			}
			b.SetBytes(raw) // MB/s of invoice XML packaged (archived, split and encrypted)
			var peak uint64
			for b.Loop() {
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				stop := make(chan struct{})
				done := make(chan uint64)
				go sampleHeap(stop, done)
				dir := b.TempDir()
				bb, err := NewBatchBuilder(dir, tc.comp, 5_000_000)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := bb.Add(fmt.Sprintf("faktura_%d.xml", i), invs[i%len(invs)]); err != nil {
						b.Fatal(err)
					}
				}
				pkg, err := bb.Finish()
				if err != nil {
					b.Fatal(err)
				}
				close(stop)
				if p := <-done; p > base.HeapAlloc && p-base.HeapAlloc > peak {
					peak = p - base.HeapAlloc
				}
				pkg.Remove()
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "invoices/s")
		})
	}
}

func sampleHeap(stop <-chan struct{}, done chan<- uint64) {
	var peak uint64
	var ms runtime.MemStats
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		select {
		case <-stop:
			done <- peak
			return
		case <-t.C:
		}
	}
}

func TestBatchBuilderAbort(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBatchBuilder(dir, Zip, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add("a.xml", []byte("<a/>")); err != nil {
		t.Fatal(err)
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
	if _, err := b.Finish(); err == nil {
		t.Fatal("Finish after Abort succeeded")
	}
}

// TestDownloadVerifiesHashes serves UPOs and export parts from a real HTTP server and checks that
// tampered content or wrong declared hashes are refused.
func TestDownloadVerifiesHashes(t *testing.T) {
	upo := []byte(`<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3"/>`)
	k, _ := newSymKey()
	plain := []byte("PK\x03\x04 pretend archive bytes")
	enc, _ := encryptCBC(k, plain)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upo/good":
			w.Header().Set("x-ms-meta-hash", hashB64(upo))
			w.Write(upo)
		case "/upo/bad":
			w.Header().Set("x-ms-meta-hash", hashB64([]byte("other")))
			w.Write(upo)
		case "/part":
			w.Write(enc)
		}
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL + "/v2", Clock: newFakeClock(), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := c.DownloadUPO(ctx, srv.URL+"/upo/good"); err != nil || !bytes.Equal(got, upo) {
		t.Fatalf("good UPO: %q %v", got, err)
	}
	if _, err := c.DownloadUPO(ctx, srv.URL+"/upo/bad"); err == nil {
		t.Fatal("UPO with a wrong x-ms-meta-hash accepted")
	}
	good := ExportPart{OrdinalNumber: 1, Method: "GET", URL: srv.URL + "/part", PartSize: int64(len(plain)), PartHash: hashB64(plain),
		EncryptedPartSize: int64(len(enc)), EncryptedPartHash: hashB64(enc)}
	var buf bytes.Buffer
	if err := c.fetchPart(ctx, k, good, &buf); err != nil || !bytes.Equal(buf.Bytes(), plain) {
		t.Fatalf("good part: %v", err)
	}
	tests := map[string]func(*ExportPart){
		"encrypted hash": func(p *ExportPart) { p.EncryptedPartHash = hashB64([]byte("x")) },
		"encrypted size": func(p *ExportPart) { p.EncryptedPartSize-- },
		"plain hash":     func(p *ExportPart) { p.PartHash = hashB64([]byte("x")) },
		"plain size":     func(p *ExportPart) { p.PartSize++ },
	}
	for name, mutate := range tests {
		p := good
		mutate(&p)
		if err := c.fetchPart(ctx, k, p, io.Discard); err == nil {
			t.Errorf("%s mismatch accepted", name)
		}
	}
	wrongKey, _ := newSymKey()
	if err := c.fetchPart(ctx, wrongKey, good, io.Discard); err == nil {
		t.Error("part decrypted with the wrong key accepted")
	}
}

// TestAuthStatusBlamingTheChallenge: KSeF may end a login with 450 and the detail "Nieprawidłowe
// wyzwanie autoryzacyjne" (open-api.json, AuthenticationOperationStatusResponse) — a used or stale
// challenge, not a bad credential. It is a login to start anew; the other 450s are the token's fault.
func TestAuthStatusBlamingTheChallenge(t *testing.T) {
	const badToken = "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu"
	for _, tc := range []struct {
		detail string
		spent  bool
	}{
		{"Nieprawidłowe wyzwanie autoryzacyjne", true},
		{"Nieprawidłowy token", false},
		{"Token unieważniony", false},
		{"Nieprawidłowy czas tokena", false},
	} {
		err := &LoginError{Method: "token", Err: authFailed(Status{Code: 450, Description: badToken, Details: []string{tc.detail}})}
		var spent *SpentLoginError
		var ae *AuthError
		if errors.As(err, &spent) != tc.spent || !errors.As(err, &ae) || ae.Code != 450 {
			t.Errorf("%s: %v; want a spent login %v, KSeF's 450 kept", tc.detail, err, tc.spent)
		}
		if IsCredentialsProblem(err) == tc.spent {
			t.Errorf("%s: credentials problem %v, want %v", tc.detail, IsCredentialsProblem(err), !tc.spent)
		}
	}
}

// TestMissingPermissionsNamed: a 403 missing-permissions says which permission the operation needs
// and which the credentials hold, so the log tells an office what its client must grant.
func TestMissingPermissionsNamed(t *testing.T) {
	for body, want := range map[string]string{
		`{"title":"Forbidden","status":403,"detail":"x","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceWrite","EnforcementOperations"],"presentPermissions":["InvoiceRead"]}}`: "needs one of InvoiceWrite, EnforcementOperations; these credentials hold InvoiceRead in this context",
		`{"title":"Forbidden","status":403,"detail":"x","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceRead"],"presentPermissions":[]}}`:                                       "needs one of InvoiceRead; these credentials hold none in this context",
	} {
		if err := ParseErrorResponse(403, http.Header{"Content-Type": {"application/problem+json"}}, []byte(body)); !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to say %q", body, err, want)
		}
	}
}
