package ksefsim

import (
	"fmt"
	"testing"
	"time"
)

// TestBatch10000Invoices checks that a full-size batch is processed in a few seconds and persisted.
func TestBatch10000Invoices(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing test: skipped in -short and under the race detector (10x slower)")
	}
	s := startSim(t, Options{RateLimits: "off", StateDir: t.TempDir()})
	access, _ := login(t, s, testNIP)
	tmpl := sampleInvoice(t, testNIP, "%d")
	files := map[string][]byte{}
	var order []string
	for i := range maxSessionInvoices {
		name := fmt.Sprintf("faktura_%d.xml", i+1)
		files[name] = fmt.Appendf(nil, string(tmpl), i) // the template has no other % than the one in P_2
		order = append(order, name)
	}
	archive := tarGzArchive(t, files, order)
	k := newSessionKey(t)
	ct, _ := aesCBCEncrypt(k.key, k.iv, archive)
	body := map[string]any{"formCode": fa3, "encryption": k.encryption(t, s),
		"batchFile": map[string]any{"fileSize": len(archive), "fileHash": sha256B64(archive), "compressionType": "TarGz",
			"fileParts": []map[string]any{{"ordinalNumber": 1, "fileSize": len(ct), "fileHash": sha256B64(ct)}}}}
	open := must(t, call(t, "POST", s.URL()+"/sessions/batch", access, body), 201).json(t)
	ref := open["referenceNumber"].(string)
	up := open["partUploadRequests"].([]any)[0].(map[string]any)
	must(t, call(t, "PUT", up["url"].(string), "", ct, "x-ms-blob-type", "BlockBlob"), 201)
	start := time.Now()
	must(t, call(t, "POST", s.URL()+"/sessions/batch/"+ref+"/close", access, nil), 204)
	ss := waitSession(t, s, access, ref)
	took := time.Since(start)
	if got := ss["successfulInvoiceCount"].(float64); got != maxSessionInvoices {
		t.Fatalf("successful %v, want %d", got, maxSessionInvoices)
	}
	t.Logf("10 000 invoices processed in %v", took) // a figure, not a check: benchmarks judge time
	start = time.Now()
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of 10 000 invoices written in %v", time.Since(start))
}
