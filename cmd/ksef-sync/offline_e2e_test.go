package main

import (
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// withQR gives e's company a QR folder and a fresh Offline certificate for KOD II; it returns the
// folder and the certificate (to verify KOD II with).
func withQR(t *testing.T, e *e2e) (string, *x509.Certificate) {
	t.Helper()
	cert, certPEM, keyPEM := offlineCertificate(t)
	writeFile(t, filepath.Join(e.dir, "offline-cert.pem"), certPEM)
	writeFile(t, filepath.Join(e.dir, "offline-key.pem"), keyPEM)
	qrDir := filepath.Join(e.dir, "qr")
	editConfig(t, e.cfgPath, "[auth]\n", fmt.Sprintf("[auth]\noffline_cert_file = %q\noffline_key_file = %q\n",
		filepath.Join(e.dir, "offline-cert.pem"), filepath.Join(e.dir, "offline-key.pem")))
	editConfig(t, e.cfgPath, "[folders]\n", fmt.Sprintf("[folders]\nqr = %q\n", qrDir))
	return qrDir, cert
}

// offlineE2E is a long e2e company (-short skips it) with QR codes (withQR) that follows the
// simulator's status service every second.
func offlineE2E(t *testing.T) (*e2e, string, *x509.Certificate) {
	t.Helper()
	e := newLongE2E(t, ksefsim.Options{}, "")
	latarnia := strings.TrimSuffix(e.sim.URL(), "/v2") + "/latarnia"
	editConfig(t, e.cfgPath, "[ksef]\n", fmt.Sprintf("[ksef]\nstatus_url = %q\nstatus_interval = \"1s\"\n", latarnia))
	qrDir, cert := withQR(t, e)
	return e, qrDir, cert
}

// statusJSON runs `status -json` on the real binary.
func (e *e2e) statusJSON() status.Report {
	e.t.Helper()
	code, out, errOut := e.runCmd(time.Minute, "status", "-json", "-config", e.cfgPath)
	if code != exitOK {
		e.t.Fatalf("status exit %d: %s", code, errOut)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		e.t.Fatalf("status -json: %v\n%s", err, out)
	}
	return rep
}

// TestOfflineDuringAnnouncedFailure is issue 14's "must show": with KSeF down and a FAILURE
// announced on its status service, 50 invoices dropped then get .qr.json and both codes at once
// (KOD II verified against the Offline certificate with Go's crypto), stay queued as failure-mode
// offline invoices that `status` lists with their deadline, and when the outage ends are all
// accepted with offlineMode true, KSeF marking them Offline, none twice.
func TestOfflineDuringAnnouncedFailure(t *testing.T) {
	e, qrDir, cert := offlineE2E(t)
	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	if err := e.sim.AnnounceLatarnia("FAILURE", "Awaria KSeF", "Trwa awaria systemu KSeF; wystawiaj faktury w trybie awaryjnym."); err != nil {
		t.Fatal(err)
	}
	startLoggedDaemon(t, e.cfgPath)
	var rep status.Report
	eventually(t, "status showing the announced failure", time.Minute, func() bool {
		rep = e.statusJSON()
		a := rep.Companies[0].KSeF.Availability
		return a != nil && a.State == "failure"
	})
	a := rep.Companies[0].KSeF.Availability
	if !strings.Contains(a.Announcement, "Trwa awaria systemu KSeF") || a.Since == "" || !strings.Contains(a.Summary, "failure announced since") {
		t.Errorf("availability in status: %+v, want the state, since when and the announcement", a)
	}

	const n = 50
	dropped := time.Now()
	e.dropSeries("FV_%02d.xml", n, 0, "AWARIA")
	eventually(t, "QR files for all 50 invoices during the outage", 2*time.Minute, func() bool {
		return len(globQuiet(qrDir, "*.qr.json")) == n
	})
	t.Logf("QR files of all %d invoices written %s after the first was dropped", n, time.Since(dropped).Round(10*time.Millisecond))
	for i := range n {
		stem := filepath.Join(qrDir, fmt.Sprintf("FV_%02d", i))
		var links struct{ KodI, KodII string }
		if err := json.Unmarshal(testutil.ReadFile(t, stem+".qr.json"), &links); err != nil {
			t.Fatal(err)
		}
		if got := testutil.QRCodes(t, stem+".kod2.png"); !slices.Equal(got, []string{links.KodII}) {
			t.Errorf("%s.kod2.png reads %q, want %q", stem, got, links.KodII)
		}
		if i%10 == 0 { // decoding every picture is slow on a shared machine; every link is verified
			if got := testutil.QRCodes(t, stem+".kod1.png"); !slices.Equal(got, []string{links.KodI}) {
				t.Errorf("%s.kod1.png reads %q, want %q", stem, got, links.KodI)
			}
		}
		testutil.VerifyKodII(t, links.KodII, cert)
	}

	eventually(t, "status listing the 50 offline invoices", time.Minute, func() bool {
		rep = e.statusJSON()
		return rep.Companies[0].OfflineCount == n
	})
	for _, o := range rep.Companies[0].Offline {
		if o.Mode != "failure" || o.Deadline != "counts from the end of the outage" || o.State != "ready" {
			t.Errorf("offline invoice in status: %+v, want failure mode, deadline from the outage's end, queued", o)
		}
	}
	_, text, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	if !strings.Contains(text, "Faktury offline jeszcze nie w KSeF (50") || !strings.Contains(text, "ogłoszona awaria od ") {
		t.Errorf("status text (Polish by default) lacks the offline invoices or the announcement:\n%s", text)
	}
	if got := len(glob(t, e.sent, "*.ksef.json")); got != 0 {
		t.Fatalf("%d invoices registered during the outage", got)
	}

	e.sim.SetFaults(ksefsim.Faults{})
	if err := e.sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil {
		t.Fatal(err)
	}
	waitForOutputs(t, e, n, 3*time.Minute)
	records := e.sentRecords()
	for stem, r := range records {
		if !r.OfflineMode || r.InvoicingMode != "Offline" {
			t.Errorf("%s: offlineMode %v, invoicingMode %q; want sent offline and marked Offline by KSeF", stem, r.OfflineMode, r.InvoicingMode)
		}
	}
	e.assertSentMatchesSim(records)
	e.assertSimClean()
	if st := e.sim.Stats(); len(st.Accepted) != n {
		t.Errorf("simulator accepted %d, want %d", len(st.Accepted), n)
	}
	eventually(t, "status: no offline invoice left, KSeF available", time.Minute, func() bool {
		rep = e.statusJSON()
		a := rep.Companies[0].KSeF.Availability
		return rep.Companies[0].OfflineCount == 0 && a != nil && a.State == "available"
	})
}

// TestTechnicalCorrectionEndToEnd: on the real binary, an offline invoice KSeF rejects gets an
// error file explaining the technical correction; the fixed file with the same number is accepted
// as a correction linked to it; a second correction ends in error/ with KSeF's 21166, explained.
func TestTechnicalCorrectionEndToEnd(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[send]\noffline_mode = \"offline24\"\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n")
	startLoggedDaemon(t, e.cfgPath)
	good := samples.Invoice(2, testNIP, time.Now(), "KT-E2E") // the template whose buyer NIP is 3861610227
	bad := []byte(strings.Replace(string(good), "<NIP>3861610227</NIP>", "<NIP>3861610228</NIP>", 1))
	waitErr := func(stem string) map[string]any {
		eventually(t, stem+".error.json", 2*time.Minute, func() bool { return len(globQuiet(e.errDir, stem+".error.json")) == 1 })
		return e.errorRecords()[stem]
	}

	e.drop("FV_KT.xml", bad)
	rejected := waitErr("FV_KT")
	if rejected["code"] != "450" || !strings.Contains(fmt.Sprint(rejected["hint"]), "Możliwa jest korekta techniczna") { // Polish by default
		t.Fatalf("rejected offline invoice: %v", rejected)
	}
	badHash := invoiceHash(bad)

	e.drop("FV_KT_fixed.xml", good)
	waitForOutputs(t, e, 1, 2*time.Minute)
	rec := e.sentRecords()["FV_KT_fixed"]
	if rec.CorrectionOf == nil || rec.CorrectionOf.FileName != "FV_KT.xml" || rec.CorrectionOf.InvoiceHash != badHash || !rec.OfflineMode || rec.InvoicingMode != "Offline" {
		t.Fatalf("correction: %+v (correctionOf %+v), want linked to FV_KT.xml %s", rec, rec.CorrectionOf, badHash)
	}
	if acc := e.sim.Stats().Accepted; len(acc) != 1 || acc[0].HashOfCorrectedInvoice != badHash || acc[0].Mode != "online" {
		t.Fatalf("simulator accepted %+v, want one online correction linked to %s", acc, badHash)
	}

	e.drop("FV_KT_again.xml", []byte(strings.Replace(string(good), "<P_2>", "<P_2 >", 1)))
	second := waitErr("FV_KT_again")
	if second["code"] != "21166" || !strings.Contains(fmt.Sprint(second["hint"]), "dozwolona jest tylko jedna") {
		t.Errorf("second correction: %v, want 21166 explained", second)
	}
	e.assertSimClean()
}

// TestOfflineDeadlinesSurviveARestart (issue 14, on the real binary): an offline24 invoice queued
// while KSeF does not answer has the next business day as its deadline; a FAILURE announced while
// it runs moves it (status shows it counting from the failure's end), also in `status` while no
// daemon runs; the failure ends while the daemon is killed, and the restarted daemon, which kept
// the failure in the journal, ends it when it sees KSeF available: status then shows 7 business
// days after that moment, as a daemon that never stopped would have. When KSeF answers again the
// invoice is accepted with offlineMode true.
func TestOfflineDeadlinesSurviveARestart(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[send]\noffline_mode = \"offline24\"\n")
	latarnia := strings.TrimSuffix(e.sim.URL(), "/v2") + "/latarnia"
	cfg := strings.Replace(string(testutil.ReadFile(t, e.cfgPath)), "[ksef]\n", fmt.Sprintf("[ksef]\nstatus_url = %q\nstatus_interval = \"1s\"\n", latarnia), 1)
	writeFile(t, e.cfgPath, []byte(cfg))
	e.sim.SetFaults(ksefsim.Faults{Outage: true}) // KSeF does not answer; nothing announced yet
	first, _ := startLoggedDaemon(t, e.cfgPath)
	e.drop("FV_1.xml", invoice(1, "RESTART"))
	deadline := func() string {
		rep := e.statusJSON()
		if len(rep.Companies[0].Offline) != 1 {
			return ""
		}
		return rep.Companies[0].Offline[0].Deadline
	}
	var own string
	eventually(t, "status listing the offline24 invoice", time.Minute, func() bool { own = deadline(); return own != "" })
	if _, err := time.Parse("2006-01-02", own); err != nil {
		t.Fatalf("offline24 deadline %q, want a date", own)
	}

	if err := e.sim.AnnounceLatarnia("FAILURE", "Awaria KSeF", "Trwa awaria."); err != nil {
		t.Fatal(err)
	}
	const open = "counts from the end of the outage"
	eventually(t, "the announced failure moving the deadline", time.Minute, func() bool { return deadline() == open })
	_ = first.Process.Kill() // SIGKILL
	_ = first.Wait()
	if got := deadline(); got != open {
		t.Fatalf("status with no daemon running: deadline %q, want %q", got, open)
	}

	if err := e.sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil { // ended while nothing ran
		t.Fatal(err)
	}
	before := time.Now()
	startLoggedDaemon(t, e.cfgPath)
	var moved string
	eventually(t, "the restarted daemon ending the failure", time.Minute, func() bool {
		moved = deadline()
		return moved != open && moved != ""
	})
	after := time.Now()
	want := map[string]bool{offline.AddBusinessDays(before, 7).Format("2006-01-02"): true, offline.AddBusinessDays(after, 7).Format("2006-01-02"): true}
	if !want[moved] {
		t.Fatalf("deadline after the restart %q (unmoved %s), want 7 business days after the failure's end, one of %v", moved, own, want)
	}

	e.sim.SetFaults(ksefsim.Faults{})
	waitForOutputs(t, e, 1, 3*time.Minute)
	for stem, r := range e.sentRecords() {
		if !r.OfflineMode {
			t.Errorf("%s: offlineMode false, want the offline24 invoice sent offline", stem)
		}
	}
}

// TestQRCodesWhileKSeFIsDown: with folders.qr and an Offline certificate, invoices dropped while
// KSeF does not answer get .qr.json, KOD I and KOD II at once; KOD II verifies against the
// certificate with Go's crypto; when KSeF is back every invoice is accepted once.
func TestQRCodesWhileKSeFIsDown(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	qrDir, cert := withQR(t, e)

	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	startLoggedDaemon(t, e.cfgPath)
	const n = 5
	e.dropSeries("FV_%d.xml", n, 0, "QR")
	eventually(t, "QR files for every invoice while KSeF is down", 2*time.Minute, func() bool {
		return len(globQuiet(qrDir, "*.qr.json")) == n
	})
	if got := len(glob(t, e.sent, "*.ksef.json")); got != 0 {
		t.Fatalf("%d invoices registered while KSeF was down", got)
	}
	for i := range n {
		stem := filepath.Join(qrDir, fmt.Sprintf("FV_%d", i))
		var links struct{ KodI, KodII, SellerNip, IssueDate, InvoiceHash string }
		if err := json.Unmarshal(testutil.ReadFile(t, stem+".qr.json"), &links); err != nil {
			t.Fatal(err)
		}
		if got := testutil.QRCodes(t, stem+".kod1.png"); !slices.Equal(got, []string{links.KodI}) {
			t.Errorf("kod1.png reads %q, want %q", got, links.KodI)
		}
		if got := testutil.QRCodes(t, stem+".kod2.png"); !slices.Equal(got, []string{links.KodII}) {
			t.Errorf("kod2.png reads %q, want %q", got, links.KodII)
		}
		testutil.VerifyKodII(t, links.KodII, cert)
	}

	e.sim.SetFaults(ksefsim.Faults{})
	waitForOutputs(t, e, n, 3*time.Minute)
	for name, rec := range e.sentRecords() {
		var links struct{ KodI string }
		stem := strings.TrimSuffix(name, ".ksef.json")
		if err := json.Unmarshal(testutil.ReadFile(t, filepath.Join(qrDir, stem+".qr.json")), &links); err != nil {
			t.Fatal(err)
		}
		if links.KodI != rec.QRCodeI {
			t.Errorf("%s: KOD I printed during the outage %s differs from the registered %s", stem, links.KodI, rec.QRCodeI)
		}
	}
	if st := e.sim.Stats(); st.DuplicateSubmissions != 0 || len(st.Accepted) != n {
		t.Errorf("accepted %d (want %d), duplicate submissions %d", len(st.Accepted), n, st.DuplicateSubmissions)
	}
}

// offlineCertificate makes a certificate of KSeF's type Offline (key usage nonRepudiation).
func offlineCertificate(t *testing.T) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	key := testutil.ECKey(t, elliptic.P256())
	cert := testutil.SelfSignedCert(t, key, pkix.Name{CommonName: "Offline " + testNIP}, 0x01F20A5D352AE590, testutil.OfflineUsage)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}

func globQuiet(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return m
}
