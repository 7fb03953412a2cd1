package main

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestSendEndToEnd drives the real binary's `send` against the simulator with 200 valid invoices
// and every kind of bad input a legacy ERP produces.
func TestSendEndToEnd(t *testing.T) {
	// settle = 1s: the half-written file below is completed right after the pass starts, well
	// inside the window even on a loaded machine.
	e := newE2E(t, ksefsim.Options{}, "[watch]\nsettle = \"1s\"\nrescan = \"1s\"\n")
	const valid = 200
	e.dropSeries("FV_%04d.xml", valid, 0, "E2E")
	dupContent := invoice(0, "E2E") // the same bytes as FV_0000.xml under another name
	e.drop("FV_copy_of_0000.xml", dupContent)
	e.drop("FV_bom.xml", append([]byte("\xEF\xBB\xBF"), invoice(1000, "E2E")...))
	cp1250 := windows1250(t, invoice(1001, "E2E"))
	e.drop("FV_cp1250.xml", cp1250)
	e.drop("FV_not_xml.xml", []byte("this is not an invoice, it is a note from the ERP\n"))
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, time.Now(), "E2E-WRONGNIP"))
	e.drop("FV_empty.xml", nil)
	e.drop("FV_oversize.xml", oversize(invoice(1002, "E2E")))
	e.drop("FV_same_name.xml", invoice(1003, "E2E"))
	// A file still being written when the pass starts: the first half now, the rest after start.
	partial := invoice(1004, "E2E")
	e.drop("FV_being_written.xml", partial[:len(partial)/2])

	done := make(chan struct{})
	var code int
	var stdout, stderr string
	go func() {
		defer close(done)
		code, stdout, stderr = e.send(4 * time.Minute)
	}()
	appendFile(t, filepath.Join(e.outbox, "FV_being_written.xml"), partial[len(partial)/2:])
	<-done
	if code != exitRejected {
		t.Fatalf("send exit code %d, want %d (some rejected)\nstdout:\n%s\nstderr:\n%s", code, exitRejected, stdout, tail(stderr))
	}

	// Second pass: the same name again with new content must not overwrite the first outputs.
	e.drop("FV_same_name.xml", invoice(1005, "E2E"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("second send exit %d\n%s\n%s", code, out, tail(errOut))
	}

	sent := e.sentRecords()
	wantSent := valid + 6 // + copy, bom, cp1250, same name twice, being written
	if len(sent) != wantSent {
		t.Errorf("sent records = %d, want %d", len(sent), wantSent)
	}
	if sent["FV_copy_of_0000"].KsefNumber != sent["FV_0000"].KsefNumber {
		t.Errorf("duplicate content got %q, original %q", sent["FV_copy_of_0000"].KsefNumber, sent["FV_0000"].KsefNumber)
	}
	if sent["FV_same_name"].KsefNumber == "" || sent["FV_same_name-2"].KsefNumber == "" || sent["FV_same_name"].KsefNumber == sent["FV_same_name-2"].KsefNumber {
		t.Errorf("same name twice: %q and %q", sent["FV_same_name"].KsefNumber, sent["FV_same_name-2"].KsefNumber)
	}
	if !bytes.Equal(testutil.ReadFile(t, filepath.Join(e.sent, "FV_being_written.xml")), partial) {
		t.Errorf("the file being written was registered incomplete")
	}
	assertConverted(t, e, "FV_bom", invoice(1000, "E2E"))
	assertConverted(t, e, "FV_cp1250", invoice(1001, "E2E"))
	e.assertSentMatchesSim(sent)

	errs := e.errorRecords()
	wantErr := map[string]string{"FV_not_xml": "not-xml", "FV_wrong_nip": "wrong-seller-nip", "FV_empty": "empty", "FV_oversize": "too-large"}
	if len(errs) != len(wantErr) {
		t.Errorf("error records = %v, want %v", keys(errs), wantErr)
	}
	for stem, code := range wantErr {
		r := errs[stem]
		if r == nil {
			t.Errorf("%s: no error record", stem)
			continue
		}
		if r["code"] != code || r["stage"] != "validation" || r["hint"] == "" || r["description"] == "" {
			t.Errorf("%s: error record %v, want code %s", stem, r, code)
		}
		orig := testutil.ReadFile(t, filepath.Join(e.errDir, stem+".xml"))
		if stem == "FV_empty" && len(orig) != 0 {
			t.Errorf("%s: original bytes not kept", stem)
		}
	}
	assertOutboxEmpty(t, e.outbox) // the hidden claim folder stays, empty
	e.assertSimClean()
}

// assertConverted checks the registered bytes are the clean UTF-8 invoice (BOM gone, declaration
// saying UTF-8) and that the conversion was recorded.
func assertConverted(t *testing.T, e *e2e, stem string, want []byte) {
	t.Helper()
	got := testutil.ReadFile(t, filepath.Join(e.sent, stem+".xml"))
	norm := func(b []byte) string {
		return strings.Replace(string(b), `encoding="utf-8"`, `encoding="UTF-8"`, 1)
	}
	if norm(got) != norm(want) {
		t.Errorf("%s: registered bytes differ from the clean UTF-8 invoice:\n got %q...\nwant %q...", stem, got[:min(120, len(got))], want[:min(120, len(want))])
	}
	if e.sentRecords()[stem].Conversion == "" {
		t.Errorf("%s: conversion not recorded", stem)
	}
}

func windows1250(t *testing.T, utf8 []byte) []byte {
	t.Helper()
	s := strings.Replace(string(utf8), `encoding="utf-8"`, `encoding="windows-1250"`, 1)
	b, err := charmap.Windows1250.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func oversize(inv []byte) []byte {
	pad := "<!--" + strings.Repeat("x", 1_100_000) + "-->"
	i := bytes.Index(inv, []byte("?>")) + 2
	return append(append(append([]byte{}, inv[:i]...), pad...), inv[i:]...)
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// TestKillNineNeverLosesOrDuplicates kills the daemon with SIGKILL at 10 random moments while it
// sends 500 invoices, restarting it each time. The moments are chosen by counting the daemon's log
// lines, so they spread over claiming, sending, confirming and writing outputs.
func TestKillNineNeverLosesOrDuplicates(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "[send]\ngather_window = \"200ms\"\npoll_interval = \"100ms\"\nmax_batch_invoices = 100\n")
	const n = 500
	e.dropSeries("K_%04d.xml", n, 0, "KILL")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for kill := range 10 {
		cmd, lines := e.daemon()
		seen := killAfterLines(e, cmd, lines, 1+rng.IntN(400), n)
		t.Logf("kill %d after %d log lines", kill+1, seen)
	}
	if code, out, errOut := e.send(3 * time.Minute); code != exitOK {
		t.Fatalf("final pass exit %d\n%s\n%s", code, out, tail(errOut))
	}
	e.assertAcceptedOnce(n)
	e.assertSimClean()
	assertNoTempFiles(t, e.sent)
}

// killAfterLines SIGKILLs the daemon after it has logged `after` lines, or once every invoice has
// its outputs (so a daemon with nothing left to say is not waited for forever).
func killAfterLines(e *e2e, cmd *exec.Cmd, lines *bufio.Scanner, after, total int) int {
	got := make(chan struct{}, 64)
	go func() {
		for lines.Scan() {
			got <- struct{}{}
		}
		close(got)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	seen := 0
loop:
	for seen < after {
		select {
		case _, ok := <-got:
			if !ok {
				break loop
			}
			seen++
		case <-tick.C:
			if len(glob(e.t, e.sent, "*.ksef.json")) >= total {
				break loop
			}
		}
	}
	_ = cmd.Process.Kill()
	go func() {
		for range got {
		}
	}()
	_ = cmd.Wait()
	return seen
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), ".") {
			t.Errorf("partial file left behind: %s", en.Name())
		}
	}
}

// TestSendWithRefusedTokenStopsAtOnce: an ERP hook must not wait for the timeout when KSeF refuses
// the credentials; the invoice stays safe in the journal for the next run.
func TestSendWithRefusedTokenStopsAtOnce(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "")
	writeFile(t, filepath.Join(e.dir, "token.txt"), []byte("20261122-EC-0000000000-0000000000-00|nip-5265877635|deadbeef"))
	e.drop("FV_1.xml", invoice(1, "AUTH"))
	start := time.Now()
	code, out, errOut := e.send(5 * time.Minute)
	if code != exitFatal || !strings.Contains(errOut, "KSeF refused the login") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, tail(errOut))
	}
	if strings.Contains(errOut, "deadbeef") {
		t.Errorf("the token leaked into the output")
	}
	if !strings.Contains(out, "pending: 1") {
		t.Errorf("stdout %q, want the invoice pending", out)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Minute {
		t.Errorf("send waited %s instead of stopping", elapsed)
	}
	// Fixed credentials: the next run sends it.
	writeFile(t, filepath.Join(e.dir, "token.txt"), []byte(e.sim.Token(testNIP)))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("after fixing the token: exit %d\n%s\n%s", code, out, tail(errOut))
	}
	if len(e.sentRecords()) != 1 {
		t.Fatalf("sent records: %d", len(e.sentRecords()))
	}
}
