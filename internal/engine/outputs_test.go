package engine

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// withIssueDate replaces the invoice's P_1 with the given text.
func withIssueDate(data []byte, p1 string) []byte {
	return regexp.MustCompile(`<P_1>[^<]*</P_1>`).ReplaceAll(data, []byte("<P_1>"+p1+"</P_1>"))
}

// TestOutputsDoNotDependOnIssueDate: an invoice KSeF registered gets its outputs even when its
// recorded P_1 is not a plain date; issueDate is written as it is (issue 11, item 1). Local
// validation now refuses such dates, so the test records them the way an older version did.
func TestOutputsDoNotDependOnIssueDate(t *testing.T) {
	for _, p1 := range []string{"2026-12-02+01:00", "2026-13-45"} {
		t.Run(p1, func(t *testing.T) {
			h := newHarness(t, SendSettings{})
			h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "P1")))
			ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
			if err != nil || len(ready) != 1 {
				t.Fatalf("ready = %d, %v", len(ready), err)
			}
			r := ready[0]
			// Back to what validation once recorded: the same bytes, P_1 as written.
			if err := h.journal.Defer(h.ctx, []int64{r.ID}, func(int) time.Time { return time.Time{} }); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", filepath.Join(h.folders.State, "journal.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(h.ctx, `UPDATE invoices SET issue_date = ? WHERE id = ?`, p1, r.ID); err != nil {
				t.Fatal(err)
			}
			done := h.settle()
			if len(done) != 1 || done[0].Outcome != "accepted" {
				t.Fatalf("done = %+v", done)
			}
			rec := h.sentRecord("FV_1")
			if rec.IssueDate != p1 || rec.KsefNumber != done[0].KsefNumber {
				t.Errorf("record issueDate %q ksefNumber %q, want %q %q", rec.IssueDate, rec.KsefNumber, p1, done[0].KsefNumber)
			}
		})
	}
}

// TestFailingOutputsBackOff: outputs that keep failing are retried after 2 s, 4 s, … (not at every
// poll) and written once the cause is gone.
func TestFailingOutputsBackOff(t *testing.T) {
	h := newHarness(t, SendSettings{})
	clk := testutil.NewClock(time.Now())
	h.eng.now = clk.Now
	// sent/ is a file: nothing can be written into it.
	if err := os.Remove(h.folders.Sent); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.folders.Sent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "BACKOFF")))
	// Let KSeF (the simulator, in real time) register the invoice while our clock stands still.
	tries := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		if err := h.eng.Step(h.ctx, true); err != nil && strings.Contains(err.Error(), "outputs") {
			tries++
			break
		}
		<-tick.C
		clk.Advance(20 * time.Millisecond) // one poll interval, so KSeF is asked again
	}
	if tries != 1 {
		t.Fatal("the invoice was not accepted, or its outputs did not fail")
	}
	// 10 s of polls every 100 ms: tries at 2 s, 6 s (after the first at 0) — not 100.
	for range 100 {
		clk.Advance(100 * time.Millisecond)
		if err := h.eng.Step(h.ctx, true); err != nil && strings.Contains(err.Error(), "outputs") {
			tries++
		}
	}
	if tries < 2 || tries > 4 {
		t.Errorf("outputs tried %d times in 10 s of polling, want 3 (backing off)", tries)
	}
	// The cause goes away: the next due try writes the outputs.
	if err := os.Remove(h.folders.Sent); err != nil {
		t.Fatal(err)
	}
	clk.Advance(maxRetry)
	if err := h.eng.Step(h.ctx, true); err != nil {
		t.Fatal(err)
	}
	done, _ := h.journal.ByState(h.ctx, nip, spool.StateDone)
	if len(done) != 1 || !fileExists(filepath.Join(h.folders.Sent, "FV_1.ksef.json")) {
		t.Fatalf("done = %+v", done)
	}
}

// TestOutputNamesAndJSONText: an input "FV Łódź 900.XML" keeps its exact name in sent/, and the
// JSON records keep '<', '>' and '&' as they are (issue 11, items 4 and 13).
func TestOutputNamesAndJSONText(t *testing.T) {
	h := newHarness(t, SendSettings{})
	data := inv(3, "ODD")
	data = regexp.MustCompile(`<P_2>[^<]*</P_2>`).ReplaceAll(data, []byte("<P_2>FV&amp;&lt;900&gt;</P_2>"))
	done := h.settle(h.drop("FV Łódź 900.XML", data))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v", done)
	}
	if got, err := os.ReadFile(filepath.Join(h.folders.Sent, "FV Łódź 900.XML")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sent copy under the exact name: %v", err)
	}
	js, err := os.ReadFile(filepath.Join(h.folders.Sent, "FV Łódź 900.ksef.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`"invoiceNumber": "FV&<900>"`)) || bytes.Contains(js, []byte(`\u003c`)) {
		t.Errorf("ksef.json escapes the invoice number:\n%s", js)
	}
	var rec SentRecord
	if err := json.Unmarshal(js, &rec); err != nil || rec.FileName != "FV Łódź 900.XML" {
		t.Errorf("record %+v, err %v", rec, err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPollDelayGrowsWithTheWait(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	poll := 2 * time.Second
	waited := func(ds ...time.Duration) spool.Waiting {
		w := spool.Waiting{Count: len(ds), Newest: now.Add(-ds[0]), Oldest: now.Add(-ds[0])}
		for _, d := range ds {
			w.Newest, w.Oldest = maxTime(w.Newest, now.Add(-d)), minTime(w.Oldest, now.Add(-d))
		}
		return w
	}
	tests := []struct {
		invs spool.Waiting
		want time.Duration
	}{
		{waited(time.Second), poll},
		{waited(10 * time.Minute), time.Minute},
		{waited(5 * time.Hour), 5 * time.Minute},
		{waited(5*time.Hour, 3*time.Second), poll}, // a fresh invoice in the same session sets the pace
	}
	for i, tt := range tests {
		if got := pollDelay(now, tt.invs, poll); got != tt.want {
			t.Errorf("case %d: pollDelay = %s, want %s", i, got, tt.want)
		}
	}
}

// TestRequeueReadableAfterALostQueue (issue 16's gap): the copies of an accepted invoice queued in
// a renderer that died with its process are found again through the journal by the next one and
// written, the invoice's and its UPO's; once they exist nothing is queued again.
func TestRequeueReadableAfterALostQueue(t *testing.T) {
	h := newHarness(t, SendSettings{})
	log := slog.New(slog.DiscardHandler)
	lost := readable.New([]render.Format{render.PDF}, render.Polish, log) // never runs: the process dies
	h.eng.SetReadable(lost)
	before := time.Now()
	done := h.settle(h.drop("FV_1.xml", invToday(1, "PDF")))
	if len(done) != 1 || lost.Pending() != 1 {
		t.Fatalf("done %d, queued %d; want 1 and 1", len(done), lost.Pending())
	}
	pdf := filepath.Join(h.folders.Sent, done[0].OutputStem+".pdf")
	if _, err := os.Stat(pdf); !os.IsNotExist(err) {
		t.Fatalf("a PDF exists before rendering: %v", err)
	}

	next := readable.New([]render.Format{render.PDF}, render.Polish, log)
	h.eng.SetReadable(next)
	if n, err := h.eng.RequeueReadable(h.ctx, before); err != nil || n != 1 {
		t.Fatalf("RequeueReadable = %d, %v; want 1", n, err)
	}
	if got := next.Settled(); got.After(done[0].UpdatedAt) {
		t.Errorf("Settled %v after the recovered invoice's time %v", got, done[0].UpdatedAt)
	}
	next.Drain(h.ctx)
	for _, p := range []string{pdf, filepath.Join(h.folders.Sent, done[0].OutputStem+".upo.pdf")} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", filepath.Base(p), err)
		}
	}
	if n, err := h.eng.RequeueReadable(h.ctx, before); err != nil || n != 0 {
		t.Errorf("RequeueReadable with the copies there = %d, %v; want 0", n, err)
	}
}

// TestKODINamesTheSeller: KOD I carries the seller's NIP (kody-qr.md, "NIP-u sprzedawcy"), which
// for a self-billed invoice is not the company's; KSeF puts it at the head of the KSeF number.
func TestKODINamesTheSeller(t *testing.T) {
	h := newHarness(t, SendSettings{})
	const seller = "3861610227"
	head := seller + "-20261206-0100001AF629"
	inv := spool.Invoice{ID: 1, FileName: "FV_self.xml", OutputStem: "FV_self", KsefNumber: head + "-" + ksef.KsefNumberCRC(head),
		RegisteredHash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", IssueDate: "2026-12-05"}
	rec, err := h.eng.sentRecord(&inv)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := "/invoice/" + seller + "/05-12-2026/47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
	if !strings.HasSuffix(rec.QRCodeI, wantPath) || rec.SellerNIP != seller {
		t.Errorf("self-billed: qrCodeI %q, sellerNip %q; want the link ending %s and sellerNip %s", rec.QRCodeI, rec.SellerNIP, wantPath, seller)
	}
	if job := h.eng.readableJob(&inv, ""); job.QRCodeI != rec.QRCodeI {
		t.Errorf("the readable copy's KOD I %q differs from the record's %q", job.QRCodeI, rec.QRCodeI)
	}
	inv.KsefNumber = ""
	if rec, _ := h.eng.sentRecord(&inv); !strings.Contains(rec.QRCodeI, "/invoice/"+nip+"/") || rec.SellerNIP != nip {
		t.Errorf("without a KSeF number: qrCodeI %q, sellerNip %q; want the company's NIP %s", rec.QRCodeI, rec.SellerNIP, nip)
	}
}

// TestSelfBilledInvoiceEndToEnd: the company, as the buyer, sends an invoice self-billed in its
// seller's name (P_17 = 1). Without the seller's SelfInvoicing grant KSeF refuses it (410); with it
// the invoice is registered under the seller's NIP and KOD I names the seller.
func TestSelfBilledInvoiceEndToEnd(t *testing.T) {
	const seller = "3861610227"
	selfBilled := func(number string) []byte {
		return []byte(strings.NewReplacer("#nip#", seller, "#selfInvocingNip#", nip, "#invoicing_date#", time.Now().Format("2006-01-02"),
			"#invoice_number#", number).Replace(string(samples.Template("invoice_template_v3_self_invoicing.xml"))))
	}
	h := newHarness(t, SendSettings{Mode: "online"})
	if done := h.settle(h.drop("SB_1.xml", selfBilled("SB-1"))); len(done) != 1 || done[0].ErrCode != 410 {
		t.Fatalf("without the seller's grant: %+v, want refused with 410", done)
	}
	// The fix is the seller's SelfInvoicing grant, not InvoiceWrite (a 403 on the send, not a 410).
	if hint := h.errorRecord("SB_1").Hint; !strings.Contains(hint, "SelfInvoicing") || strings.Contains(hint, "InvoiceWrite") {
		t.Errorf("error file hint %q; want it to name the seller's SelfInvoicing grant", hint)
	}
	h.sim.GrantSelfInvoicing(seller, nip)
	h.settle(h.drop("SB_2.xml", selfBilled("SB-2")))
	rec := h.sentRecord("SB_2")
	if !strings.HasPrefix(rec.KsefNumber, seller+"-") || rec.SellerNIP != seller || !strings.Contains(rec.QRCodeI, "/invoice/"+seller+"/") {
		t.Errorf("with the grant: %+v, want registered under the seller %s and KOD I naming it", rec, seller)
	}
}
