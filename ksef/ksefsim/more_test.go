package ksefsim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMetadataQueryAndDownload(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, HWMLag: time.Minute})
	seller, _ := login(t, s, testNIP)
	sess, k := openOnline(t, s, seller)
	xmlData := sampleInvoice(t, testNIP, "Q1") // buyer in the sample: 3861610227
	inv := sendInvoice(t, s, seller, sess, k, xmlData)
	ksef := invoiceStatus(t, s, seller, sess, inv)["ksefNumber"].(string)
	for i := range 25 {
		if _, err := s.Seed(SeedInvoice{SellerNIP: "1111111111", BuyerNIP: "3861610227", PermanentStorageDate: c.Now().Add(-time.Duration(30-i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(2 * time.Minute) // the session invoice is now below the HWM
	buyer, _ := login(t, s, "3861610227")
	filter := map[string]any{"subjectType": "Subject2", "dateRange": map[string]any{"dateType": "PermanentStorage",
		"from": c.Now().Add(-2 * time.Hour).Format(time.RFC3339), "restrictToPermanentStorageHwmDate": true}}
	var got []string
	for page := 0; ; page++ {
		r := must(t, call(t, "POST", s.URL()+"/invoices/query/metadata?pageSize=10&pageOffset="+strconv.Itoa(page), buyer, filter), 200).json(t)
		if r["permanentStorageHwmDate"] != fmtTime(c.Now().Add(-time.Minute)) {
			t.Errorf("permanentStorageHwmDate = %v", r["permanentStorageHwmDate"])
		}
		for _, it := range r["invoices"].([]any) {
			m := it.(map[string]any)
			for _, field := range []string{"seller", "buyer", "netAmount", "grossAmount", "vatAmount", "currency", "invoiceNumber", "issueDate", "invoicingDate", "acquisitionDate", "permanentStorageDate", "invoiceType", "formCode", "invoiceHash", "invoicingMode", "isSelfInvoicing", "hasAttachment"} {
				if _, ok := m[field]; !ok {
					t.Fatalf("metadata lacks %s: %v", field, m)
				}
			}
			got = append(got, m["ksefNumber"].(string))
		}
		if r["hasMore"] != true {
			break
		}
	}
	if len(got) != 26 || got[25] != ksef {
		t.Fatalf("got %d invoices, last %v; want 26 ending with %s", len(got), got[len(got)-1:], ksef)
	}
	// The seller sees the invoice as Subject1, and both can download it.
	filter["subjectType"] = "Subject1"
	r := must(t, call(t, "POST", s.URL()+"/invoices/query/metadata", seller, filter), 200).json(t)
	if n := len(r["invoices"].([]any)); n != 1 {
		t.Errorf("seller sees %d invoices, want 1", n)
	}
	for _, tok := range []string{seller, buyer} {
		d := must(t, call(t, "GET", s.URL()+"/invoices/ksef/"+ksef, tok, nil), 200)
		if !bytes.Equal(d.body, xmlData) || d.header.Get("x-ms-meta-hash") != sha256B64(xmlData) {
			t.Errorf("download differs")
		}
	}
	filter["dateRange"].(map[string]any)["to"] = c.Now().AddDate(0, 4, 0).Format(time.RFC3339)
	if code := must(t, call(t, "POST", s.URL()+"/invoices/query/metadata", seller, filter), 400).exceptionCode(t); code != 21405 {
		t.Errorf("range over 3 months: %d, want 21405", code)
	}
	// Pages outside open-api.json's bounds, and a page starting at the 10,000-record limit, which
	// production refuses (marcinbojko/ksef-gui#36) rather than answering an empty page.
	delete(filter["dateRange"].(map[string]any), "to")
	for _, page := range []string{"pageSize=9", "pageSize=251", "pageOffset=-1", "pageSize=250&pageOffset=40"} {
		if code := must(t, call(t, "POST", s.URL()+"/invoices/query/metadata?"+page, seller, filter), 400).exceptionCode(t); code != 21405 {
			t.Errorf("%s: %d, want 21405", page, code)
		}
	}
	must(t, call(t, "POST", s.URL()+"/invoices/query/metadata?pageSize=250&pageOffset=39", seller, filter), 200)
}

func TestRoutingNotFoundAndNotImplemented(t *testing.T) {
	s := startSim(t, Options{})
	access, _ := login(t, s, testNIP)
	must(t, call(t, "GET", s.URL()+"/no/such/endpoint", access, nil), 404)
	must(t, call(t, "GET", s.URL()+"/tokens", access, nil), 501)
	must(t, call(t, "GET", s.URL()+"/sessions?sessionType=Online", "not-a-token", nil), 401)
	rl := must(t, call(t, "GET", s.URL()+"/rate-limits", access, nil), 200).json(t)
	if rl["invoiceSend"].(map[string]any)["perHour"].(float64) != 180 {
		t.Errorf("rate-limits: %v", rl["invoiceSend"])
	}
}

func TestExportConcurrencyLimit(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, ProcessingDelay: time.Minute})
	access, _ := login2(t, s, c)
	k := newSessionKey(t)
	body := map[string]any{"encryption": k.encryption(t, s), "filters": map[string]any{"subjectType": "Subject1",
		"dateRange": map[string]any{"dateType": "Issue", "from": c.Now().Add(-time.Hour).Format(time.RFC3339)}}}
	for range maxRunningExports {
		must(t, call(t, "POST", s.URL()+"/invoices/exports", access, body), 201)
	}
	if code := must(t, call(t, "POST", s.URL()+"/invoices/exports", access, body), 400).exceptionCode(t); code != 21182 {
		t.Errorf("11th export: %d, want 21182", code)
	}
	waitJobs(s)
	c.Advance(time.Minute)
	must(t, call(t, "POST", s.URL()+"/invoices/exports", access, body), 201)
}

func TestDropFaultClosesConnection(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	s.SetFaults(Faults{DropRate: 1})
	req, _ := http.NewRequest("POST", s.URL()+"/auth/challenge", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("expected a dropped connection, got HTTP %d", res.StatusCode)
	}
}

func TestAdminAPI(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	tok := must(t, call(t, "POST", s.AdminURL()+"/tokens", "", map[string]string{"nip": "3861610227"}), 200).json(t)
	if tok["token"] != s.Token("3861610227") {
		t.Errorf("admin token %v differs from Token()", tok["token"])
	}
	seeds := must(t, call(t, "POST", s.AdminURL()+"/seed", "", []byte(`[{"SellerNIP":"1111111111","BuyerNIP":"5265877635","PermanentStorageDate":"2026-01-02T10:00:00Z"}]`)), 200)
	var out []SeededInvoice
	if err := json.Unmarshal(seeds.body, &out); err != nil || len(out) != 1 || !validKsefNumber(out[0].KsefNumber) {
		t.Fatalf("seed: %s", seeds.body)
	}
	must(t, call(t, "POST", s.AdminURL()+"/export-truncate?n=3", "", nil), 204)
	must(t, call(t, "POST", s.AdminURL()+"/rotate-keys?emergency=true", "", nil), 204)
	var st Stats
	if err := json.Unmarshal(must(t, call(t, "GET", s.AdminURL()+"/stats", "", nil), 200).body, &st); err != nil {
		t.Fatal(err)
	}
	if s.truncate != 3 {
		t.Errorf("truncate = %d", s.truncate)
	}
}

// syncBuffer is an io.Writer that reports when a line containing want arrives.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	done chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if strings.Contains(b.buf.String(), b.want) && b.done != nil {
		close(b.done)
		b.done = nil
	}
	return n, err
}

func TestRunCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{want: "token: ", done: make(chan struct{})}
	ready := out.done
	var errBuf bytes.Buffer
	exit := make(chan int)
	go func() {
		exit <- RunCLI(ctx, []string{"-addr", "127.0.0.1:0", "-nip", "3861610227", "-tokens", "3861610227:tok-123", "-delay", "0s"}, out, &errBuf)
	}()
	select {
	case <-ready:
	case code := <-exit:
		t.Fatalf("RunCLI exited %d: %s", code, errBuf.String())
	}
	lines := map[string]string{}
	out.mu.Lock()
	for _, l := range strings.Split(strings.TrimSpace(out.buf.String()), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		lines[k] = v
	}
	out.mu.Unlock()
	if lines["nip"] != "3861610227" || lines["token"] != "tok-123" || !strings.HasSuffix(lines["url"], "/v2") || !strings.HasSuffix(lines["admin"], "/admin") {
		t.Errorf("RunCLI printed %v", lines)
	}
	must(t, call(t, "POST", lines["url"]+"/auth/challenge", "", nil), 200)
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("exit code %d: %s", code, errBuf.String())
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start("0.0.0.0:0"); err == nil {
		t.Fatal("Start on 0.0.0.0 succeeded without AllowNonLoopback")
	}
}
