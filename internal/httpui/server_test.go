package httpui

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

func report(context.Context) (*status.Report, error) {
	return &status.Report{Service: "running", GeneratedAt: "2026-12-02T16:00:00+01:00", TimeZone: "Europe/Warsaw",
		Daemon: status.Daemon{Running: true, PID: 42, Host: "erp1", StartedAt: "2026-12-02T08:00:00+01:00"},
		Companies: []status.Company{{Headline: status.Headline{NIP: "5265877635", Environment: "test", Queue: map[string]int{"ready": 3}},
			Invoices: status.Counts{Total: 10, Accepted: 6, Rejected: 1, InProgress: 3},
			KSeF: status.KSeF{State: "unreachable", CheckedAt: "2026-12-02T15:59:58+01:00",
				Availability: &status.Availability{State: "failure", Since: "2026-12-02T14:30:00Z", Announcement: "Awaria <KSeF>",
					Summary: "failure announced since 2026-12-02 15:30 (Warsaw): Awaria <KSeF>"}},
			Offline:      []status.OfflineInvoice{{File: "FV_9.xml", InvoiceNumber: "FV/9", Mode: "failure", Deadline: "counts from the end of the outage", State: "ready"}},
			OfflineCount: 1,
			Standing: status.Standing{Rejections: []status.Rejection{{Time: "2026-12-02T15:00:00Z", File: "FV <1>.xml", Code: "450",
				Reason: "Błąd <b>semantyki</b>", Hint: "popraw NIP nabywcy", ErrorFile: "FV <1>.error.json"}}}}}}, nil
}

func serve(t *testing.T, o Options) string {
	t.Helper()
	o.Listen = "127.0.0.1:0"
	srv, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + srv.Addr()
}

func get(t *testing.T, url, user, pass string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The page escapes what it shows, refreshes itself, fetches nothing and states the truth, in the
// configured language: Polish by default, English with language = "en".
func TestPage(t *testing.T) {
	common := []string{`<meta http-equiv="refresh" content="10">`, `name="viewport"`,
		"FV &lt;1&gt;.xml", "Błąd &lt;b&gt;semantyki&lt;/b&gt;", "popraw NIP nabywcy", "error/FV &lt;1&gt;.error.json",
		"2026-12-02T16:00:00&#43;01:00 (Europe/Warsaw)"}
	for _, tt := range []struct {
		lang      msg.Lang
		want, not []string
	}{
		{"", []string{`<html lang="pl">`, "<title>stan ksef-sync</title>", "działa (PID 42 na erp1", "NIEDOSTĘPNY",
			"<dt>usługa systemowa</dt><dd>działa</dd>", "10 = <span class=\"ok\">6 przyjętych</span>", "1 odrzuconych", "3 w toku",
			"<dt>ostatnia wysyłka</dt><dd>nigdy</dd>", "Faktury wystawione offline, jeszcze nie w KSeF (1, od najbliższego terminu)",
			"FV/9 · failure · wyślij do <b>counts from the end of the outage</b>", "Ostatnie odrzucenia", "szczegóły: <code>", "Odświeżana co 10 s",
			"ogłoszona awaria od 2026-12-02 15:30 (czas warszawski): Awaria &lt;KSeF&gt;"},
			[]string{"6 accepted", "Latest rejections", "never", "Refreshes", "announced"}},
		{msg.EN, []string{`<html lang="en">`, "<title>ksef-sync status</title>", "running (PID 42 on erp1", "NOT reachable",
			"<dt>service</dt><dd>running</dd>", "10 = <span class=\"ok\">6 accepted</span>", "1 rejected", "3 in progress",
			"<dt>last successful send</dt><dd>never</dd>", "Offline invoices not yet in KSeF (1, earliest deadline first)",
			"FV/9 · failure · send by <b>counts from the end of the outage</b>", "Latest rejections", "details: <code>", "Refreshes every 10 s",
			"failure announced since 2026-12-02 15:30 (Warsaw): Awaria &lt;KSeF&gt;"},
			[]string{"przyjętych", "Ostatnie odrzucenia", "nigdy"}},
	} {
		t.Run(string(tt.lang), func(t *testing.T) {
			base := serve(t, Options{Status: report, Lang: tt.lang})
			code, h, body := get(t, base+"/", "", "")
			if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s", code, h.Get("Content-Type"))
			}
			for _, want := range append(common, tt.want...) {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, other := range tt.not {
				if strings.Contains(body, other) {
					t.Errorf("page contains %q from the other language", other)
				}
			}
			for _, banned := range []string{"<script", "http://", "https://", "<link"} {
				if strings.Contains(body, banned) {
					t.Errorf("page contains %q: it must embed everything", banned)
				}
			}
		})
	}
	base := serve(t, Options{Status: report})
	if code, _, _ := get(t, base+"/nothing", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
}

// TestPageWordsAreInTheCatalogue: every {{t "key"}} of the page names a catalogue message (a
// missing one would show the bare key), so the page can never be half translated.
func TestPageWordsAreInTheCatalogue(t *testing.T) {
	keys := regexp.MustCompile(`\{\{t "([^"]+)"`).FindAllStringSubmatch(pageHTML, -1)
	if len(keys) < 20 {
		t.Fatalf("found only %d {{t}} calls in page.html: the scan is broken", len(keys))
	}
	for _, k := range keys {
		for _, l := range []msg.Lang{msg.PL, msg.EN} {
			if got := l.T(msg.Key(k[1])); got == k[1] {
				t.Errorf("page.html uses %q, which the catalogue lacks", k[1])
			}
		}
	}
}

func TestBasicAuthOnEveryEndpoint(t *testing.T) {
	base := serve(t, Options{Status: report, User: "admin", Password: "s3cret", Registry: prometheus.NewRegistry()})
	for _, path := range []string{"/", "/api/status", "/metrics", "/healthz"} {
		for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"other", "s3cret"}} {
			if code, h, _ := get(t, base+path, c.user, c.pass); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
				t.Errorf("%s as %q/%q: %d", path, c.user, c.pass, code)
			}
		}
		if code, _, _ := get(t, base+path, "admin", "s3cret"); code != 200 {
			t.Errorf("%s with credentials: %d", path, code)
		}
	}
}

func TestHealthz(t *testing.T) {
	var bad error
	base := serve(t, Options{Status: report, Health: func(context.Context) error { return bad }})
	if code, _, body := get(t, base+"/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("%d %q", code, body)
	}
	bad = errors.New("the journal is not writable: disk full")
	if code, _, body := get(t, base+"/healthz", "", ""); code != 503 || body != "the journal is not writable: disk full\n" {
		t.Errorf("%d %q", code, body)
	}
}

// A port in use is an error for the caller to report; it never panics or exits.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(Options{Listen: ln.Addr().String(), Status: report}); err == nil || !strings.Contains(err.Error(), "status page on") {
		t.Errorf("err = %v", err)
	}
}
