package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/httpui"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// Recognisable secrets: none of them may appear on a page, in a metric, a message or the log.
const (
	secretSMTP    = "smtp-Pa55-7c1d9e"
	secretHTTP    = "http-Pa55-4b8f02"
	secretWebhook = "hook-T0KEN-91ac33"
)

// hookSink is a webhook receiver.
type hookSink struct {
	mu     sync.Mutex
	bodies []string
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/hook/"+secretWebhook {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	h.mu.Unlock()
}

func (h *hookSink) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// eventually polls cond until it holds or the deadline passes; the deadline is generous because
// the machine is shared, and the loop ends as soon as the condition is true.
func eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}

type webClient struct {
	t    *testing.T
	base string
}

func (c webClient) get(path string, auth bool) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	if auth {
		req.SetBasicAuth("admin", secretHTTP)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestObservabilityEndToEnd runs the real daemon with the status page, metrics and both notification
// channels: 20 good and 5 bad invoices give counters that match, one digest per channel naming the
// 5 rejected files with their codes, /api/status equal to `status -json`, a /healthz that fails
// while another program holds the journal's write lock, and no secret anywhere.
func TestObservabilityEndToEnd(t *testing.T) {
	box, smtpPort := testutil.StartSMTP(t, "ksef", secretSMTP, nil)
	hooks := &hookSink{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)
	httpPort := freePort(t)
	t.Setenv("TEST_SMTP_PW", secretSMTP)
	t.Setenv("TEST_HTTP_PW", secretHTTP)
	e := newE2E(t, ksefsim.Options{}, fmt.Sprintf(`[http]
listen = "127.0.0.1:%d"
user = "admin"
password_env = "TEST_HTTP_PW"
`, httpPort)+notifyTOML("ksiegowosc@example.pl", smtpPort, hookSrv.URL)+`digest = "2s"
# credentials_expiring is left out: whether the token's deadline is near depends on today's date.
events = ["rejected", "stalled", "ksef_unavailable", "pull_failing"]
`)
	cmd, sc := e.daemon()
	logs := collectLog(sc)
	web := webClient{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	eventually(t, "the status page", time.Minute, func() bool {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	if code, _ := web.get("/", false); code != http.StatusUnauthorized {
		t.Errorf("GET / without credentials: %d, want 401", code)
	}

	e.dropSeries("FV_OK_%02d.xml", 20, 0, "OBS")
	bad := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("FV_BAD_%d.xml", i)
		e.drop(name, []byte("not an invoice\n"))
		bad[name] = "not-xml"
	}
	for i := 3; i < 5; i++ {
		name := fmt.Sprintf("FV_BAD_%d.xml", i)
		e.drop(name, samples.Invoice(i, samples.BuyerNIP, time.Now(), fmt.Sprintf("OBS-WRONG-%d", i)))
		bad[name] = "wrong-seller-nip"
	}
	eventually(t, "20 outputs in sent/ and 5 in error/", 3*time.Minute, func() bool {
		return len(glob(t, e.sent, "*.ksef.json")) == 20 && len(glob(t, e.errDir, "*.error.json")) == 5
	})
	eventually(t, "one e-mail and one webhook call", time.Minute, func() bool {
		return len(box.Messages()) >= 1 && len(hooks.calls()) >= 1
	})

	// Metrics: parse with the Prometheus text parser; the counters match the outcomes.
	code, metricsText := web.get("/metrics", true)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, metricsText)
	}
	fams, got := parseMetrics(t, metricsText)
	// The single-company form is the company named "default" (README: company.name).
	if diff := cmp.Diff(map[string]float64{"default/" + testNIP + "/accepted": 20, "default/" + testNIP + "/rejected": 5}, got); diff != "" {
		t.Errorf("ksef_sync_invoices_total (-want +got):\n%s", diff)
	}
	for _, name := range []string{"ksef_sync_queue_invoices", "ksef_sync_last_success_timestamp_seconds",
		"ksef_sync_credentials_expiry_timestamp_seconds", "ksef_sync_ksef_requests_total",
		"ksef_sync_ksef_request_duration_seconds", "ksef_sync_ksef_available"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}

	// /api/status is the document `status -json` prints (apart from the moment it was taken).
	var api string
	eventually(t, "KSeF reported reachable (the daemon talked to it)", time.Minute, func() bool {
		_, api = web.get("/api/status", true)
		return strings.Contains(api, `"state": "reachable"`)
	})
	rc, cli, stderr := e.runCmd(time.Minute, "status", "-config", e.cfgPath, "-json")
	if rc != exitOK {
		t.Fatalf("status -json: exit %d: %s", rc, stderr)
	}
	if diff := cmp.Diff(timeless(t, cli), timeless(t, api)); diff != "" {
		t.Errorf("/api/status differs from status -json (-cli +api):\n%s", diff)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(api), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Daemon.Running || rep.Daemon.PID != cmd.Process.Pid {
		t.Errorf("daemon %+v, want running with PID %d", rep.Daemon, cmd.Process.Pid)
	}
	if c := rep.Companies[0].Invoices; c.Accepted != 20 || c.Rejected != 5 || c.Total != 25 || c.InProgress != 0 {
		t.Errorf("counts %+v, want 25 = 20 + 5 + 0", c)
	}
	_, text, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	// In Polish, the default language (issue 11 item 4).
	if !strings.Contains(text, fmt.Sprintf("działa (PID %d", cmd.Process.Pid)) || !strings.Contains(text, "Faktury: 25 = 20 przyjętych + 5 odrzuconych + 0 w toku") {
		t.Errorf("status text does not tell the truth:\n%s", text)
	}
	_, page := web.get("/", true)
	for name := range bad {
		if !strings.Contains(page, name) {
			t.Errorf("status page does not list %s", name)
		}
	}
	// The page speaks the configuration's language too: Polish by default.
	for _, want := range []string{`<html lang="pl">`, fmt.Sprintf("działa (PID %d", cmd.Process.Pid), "20 przyjętych</span>", "Ostatnie odrzucenia"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	// The page in a real browser (skipped without Chromium, required in CI).
	screenshotStatusPage(t, e)

	// /healthz: another program holding journal.db's write lock makes it unwritable.
	if code, body := web.get("/healthz", true); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}
	release := lockJournal(t, filepath.Join(e.dir, "state", "journal.db"))
	code, body := web.get("/healthz", true)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "journal is not writable") {
		t.Errorf("/healthz with the journal locked: %d %q, want 503 with the reason", code, body)
	}
	release()
	eventually(t, "/healthz back to 200", time.Minute, func() bool {
		code, _ := web.get("/healthz", true)
		return code == http.StatusOK
	})

	// Stop the daemon: what was sent is all that will ever be sent for this window.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	mails, calls := box.Messages(), hooks.calls()
	if len(mails) != 1 || len(calls) != 1 {
		t.Fatalf("%d e-mails and %d webhook calls, want exactly one each", len(mails), len(calls))
	}
	var hook struct {
		Text   string `json:"text"`
		Total  int    `json:"total"`
		Events []struct{ Kind, File, Code string }
	}
	if err := json.Unmarshal([]byte(calls[0]), &hook); err != nil {
		t.Fatalf("webhook body: %v\n%s", err, calls[0])
	}
	gotEvents := map[string]string{}
	for _, ev := range hook.Events {
		gotEvents[ev.File] = ev.Code
	}
	if diff := cmp.Diff(bad, gotEvents); diff != "" || hook.Total != 5 {
		t.Errorf("webhook events (-want +got), total %d:\n%s", hook.Total, diff)
	}
	for name, code := range bad {
		for _, msg := range []string{mails[0], hook.Text} {
			if !strings.Contains(msg, name+" ["+code+"]") {
				t.Errorf("message does not name %s [%s]:\n%s", name, code, msg)
			}
		}
	}

	// No secret anywhere a person or a scraper can see.
	token := e.sim.Token(testNIP)
	outputs := map[string]string{"page": page, "api": api, "metrics": metricsText, "status": text,
		"mail": mails[0], "webhook": calls[0], "log": logs()}
	for where, out := range outputs {
		for _, secret := range []string{secretSMTP, secretHTTP, secretWebhook, token} {
			if strings.Contains(out, secret) {
				t.Errorf("a secret appears in the %s", where)
			}
		}
	}
}

// collectLog gathers the daemon's log lines.
func collectLog(sc interface {
	Scan() bool
	Text() string
}) func() string {
	var mu sync.Mutex
	var b strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			mu.Lock()
			b.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	return func() string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

// timeless drops what differs only because two documents were taken at different moments.
func timeless(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	delete(m, "generatedAt")
	if d, ok := m["daemon"].(map[string]any); ok {
		delete(d, "lastHeartbeat")
	}
	for _, c := range m["companies"].([]any) {
		co := c.(map[string]any)
		delete(co["ksef"].(map[string]any), "checkedAt")
	}
	return m
}

// lockJournal takes journal.db's write lock from another connection, as a backup tool or a
// database browser would, and returns its release.
func lockJournal(t *testing.T, path string) func() {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		_ = tx.Rollback()
		_ = db.Close()
	}
}

// screenshotStatusPage renders the status page of e's live journal in headless Chromium, checks
// the DOM it built and saves a phone-sized screenshot to docs/status-page.png. The page is served
// by the same package the daemon uses, without basic auth, because Chromium takes no credentials
// on its command line.
func screenshotStatusPage(t *testing.T, e *e2e) {
	t.Helper()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; CI must install it (apt-get install -y chromium)")
		}
		t.Log("chromium not installed: status page browser check skipped")
		return
	}
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	creds, expires := credentialSummary(cfg)
	srv, err := httpui.Listen(httpui.Options{Listen: "127.0.0.1:0", Lang: cfg.Lang(), Status: func(ctx context.Context) (*status.Report, error) {
		return status.Collect(ctx, status.Options{Config: cfg, Service: serviceState(cfg), Credentials: creds, CredsExpires: expires, Now: time.Now()})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	url := "http://" + srv.Addr() + "/"
	profile := t.TempDir()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + profile}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dom, err := exec.CommandContext(ctx, chromium, append(flags, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for _, want := range []string{"FV_BAD_0.xml", "wrong-seller-nip", "20 przyjętych", "działa (PID"} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the page Chromium rendered lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "status-page.png")
	out, err := exec.CommandContext(ctx, chromium, append(flags, "--hide-scrollbars", "--window-size=412,1500",
		"--screenshot="+shot, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	png := testutil.ReadFile(t, shot)
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("no screenshot written (%d bytes)", len(png))
	}
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		writeFile(t, filepath.Join("..", "..", "docs", "status-page.png"), png)
	}
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// notifyTOML is a [notify] section that mails to through the test SMTP server (password in
// TEST_SMTP_PW) and posts to the webhook sink at hookURL.
func notifyTOML(to string, smtpPort int, hookURL string) string {
	return fmt.Sprintf(`[notify]
email_to = [%q]
email_from = "ksef-sync@example.pl"
smtp_host = "127.0.0.1"
smtp_port = %d
smtp_user = "ksef"
smtp_password_env = "TEST_SMTP_PW"
smtp_starttls = false
webhook_url = "%s/hook/%s"
`, to, smtpPort, hookURL, secretWebhook)
}

// notify test sends one message through every channel and reports each result, never a secret.
func TestNotifyTestCommand(t *testing.T) {
	box, smtpPort := testutil.StartSMTP(t, "ksef", secretSMTP, nil)
	hooks := &hookSink{}
	hookSrv := httptest.NewServer(hooks)
	cfg := statusConfig(t, notifyTOML("ops@example.pl", smtpPort, hookSrv.URL))
	getenv := func(k string) string {
		if k == "TEST_SMTP_PW" {
			return secretSMTP
		}
		return ""
	}
	code, out, errOut := runCLI(t, "", getenv, "notify", "test", "-config", cfg.Path)
	if code != exitOK || out != "e-mail to ops@example.pl: sent\nwebhook: sent\n" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if len(box.Messages()) != 1 || len(hooks.calls()) != 1 || !strings.Contains(box.Messages()[0], "test of ksef-sync's notifications") {
		t.Errorf("%d e-mails, %d webhook calls", len(box.Messages()), len(hooks.calls()))
	}
	hookSrv.Close()
	code, out, _ = runCLI(t, "", func(string) string { return "wrong" }, "notify", "test", "-config", cfg.Path)
	if code != exitFatal || !strings.Contains(out, "e-mail to ops@example.pl: FAILED: ") || !strings.Contains(out, "webhook: FAILED: ") {
		t.Errorf("exit %d\n%s", code, out)
	}
	for _, secret := range []string{secretSMTP, secretWebhook, "wrong", hookSrv.URL} {
		if strings.Contains(out, secret) {
			t.Errorf("output shows %q:\n%s", secret, out)
		}
	}
	if code, _, errOut := runCLI(t, "", nil, "notify", "test", "-config", statusConfig(t, "").Path); code != exitFatal || !strings.Contains(errOut, "no notification channel") {
		t.Errorf("without channels: exit %d %s", code, errOut)
	}
}

// A status page port already taken is a warning: the daemon goes on sending.
func TestDaemonGoesOnWhenStatusPortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newE2E(t, ksefsim.Options{}, fmt.Sprintf("[http]\nlisten = %q\n", ln.Addr().String()))
	cmd, sc := e.daemon()
	logs := collectLog(sc)
	e.drop("FV_1.xml", invoice(1, "PORT"))
	eventually(t, "the invoice registered", 2*time.Minute, func() bool { return len(glob(t, e.sent, "*.ksef.json")) == 1 })
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if l := logs(); !strings.Contains(l, "level=WARN msg=\"status page is off; the daemon goes on without it\"") || !strings.Contains(l, "address already in use") {
		t.Errorf("no warning about the port in the log:\n%s", l)
	}
}
