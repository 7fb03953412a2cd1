package ksefsim

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// zalacznik is an attachment block that passes the FA(3) schema; it is the invoice's last element.
const zalacznik = "<Zalacznik><BlokDanych><ZNaglowek>Protokół</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>"

// withAttachment is the test invoice number with a Zalacznik.
func withAttachment(t *testing.T, number string) []byte {
	t.Helper()
	return []byte(strings.Replace(string(sampleInvoice(t, testNIP, number)), "</Faktura>", zalacznik, 1))
}

// issuedOn is the test invoice number with P_1 = day.
func issuedOn(t *testing.T, number, day string) []byte {
	t.Helper()
	return []byte(strings.Replace(string(sampleInvoice(t, testNIP, number)), "<P_1>2026-03-10</P_1>", "<P_1>"+day+"</P_1>", 1))
}

// statusOf is the status object of an invoice answer.
func statusOf(m map[string]any) map[string]any { return m["status"].(map[string]any) }

// onlineStatus sends data in the online session and returns its final invoice status.
func onlineStatus(t *testing.T, c *clock, s *Server, access, sess string, k sessionKey, data []byte) map[string]any {
	t.Helper()
	ref := sendInvoice(t, s, access, sess, k, data)
	c.Advance(time.Minute)
	return statusOf(invoiceStatus(t, s, access, sess, ref))
}

// batchStatuses sends the invoices as one batch session (one part, Zip) and returns each file's
// final invoice status by file name.
func batchStatuses(t *testing.T, s *Server, access string, files map[string][]byte) map[string]map[string]any {
	t.Helper()
	var order []string
	for name := range files {
		order = append(order, name)
	}
	archive := zipArchive(t, files, order)
	k := newSessionKey(t)
	ct, err := aesCBCEncrypt(k.key, k.iv, archive)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"formCode": fa3, "encryption": k.encryption(t, s), "batchFile": map[string]any{
		"fileSize": len(archive), "fileHash": sha256B64(archive), "compressionType": "Zip",
		"fileParts": []any{map[string]any{"ordinalNumber": 1, "fileSize": len(ct), "fileHash": sha256B64(ct)}}}}
	open := must(t, call(t, "POST", s.URL()+"/sessions/batch", access, body), 201).json(t)
	ref := open["referenceNumber"].(string)
	up := open["partUploadRequests"].([]any)[0].(map[string]any)
	must(t, call(t, "PUT", up["url"].(string), "", ct, "x-ms-blob-type", "BlockBlob"), 201)
	must(t, call(t, "POST", s.URL()+"/sessions/batch/"+ref+"/close", access, nil), 204)
	waitJobs(s)
	list := must(t, call(t, "GET", s.URL()+"/sessions/"+ref+"/invoices", access, nil), 200).json(t)
	out := map[string]map[string]any{}
	for _, it := range list["invoices"].([]any) {
		inv := it.(map[string]any)
		out[inv["invoiceFileName"].(string)] = statusOf(inv)
	}
	if len(out) != len(files) {
		t.Fatalf("batch listed %d invoices, want %d", len(out), len(files))
	}
	return out
}

// wantStatus fails unless st has code and, when detail is not empty, a detail containing it.
func wantStatus(t *testing.T, what string, st map[string]any, code int, detail string) {
	t.Helper()
	if st["code"] != float64(code) || !strings.Contains(fmt.Sprint(st["details"]), detail) {
		t.Errorf("%s: status %v, want %d with %q", what, st, code, detail)
	}
}

// TestFormMismatchIsASchemaError: an invoice of another form than the session's fails the schema
// the session declared, and KSeF answers schema errors with 450 and the .NET validator's message
// ("The value of the 'kodSystemowy' attribute does not equal its fixed value.", CIRFMF/ksef-api
// #495), not with 430.
func TestFormMismatchIsASchemaError(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	invoice := string(sampleInvoice(t, testNIP, "FORM-1"))
	otherCode := strings.Replace(invoice, `kodSystemowy="FA (3)"`, `kodSystemowy="FA (2)"`, 1)
	wantStatus(t, "kodSystemowy FA (2) in an FA (3) session", onlineStatus(t, c, s, access, sess, k, []byte(otherCode)),
		450, "The value of the 'kodSystemowy' attribute does not equal its fixed value.")
	otherNS := strings.Replace(strings.Replace(invoice, nsFA3, nsFA2, 1), "FORM-1", "FORM-2", 1)
	wantStatus(t, "FA(2) namespace in an FA (3) session", onlineStatus(t, c, s, access, sess, k, []byte(otherNS)),
		450, "The '"+nsFA2+":Faktura' element is not declared.")
}

// TestIssueDateLaterThanAcceptanceIs450: "Data wystawienia faktury (P_1) nie może być późniejsza
// niż data przyjęcia dokumentu do systemu KSeF" (weryfikacja-faktury.md), by the day in Poland;
// the status code (450) is the simulator's assumption. Online and batch alike.
func TestIssueDateLaterThanAcceptanceIs450(t *testing.T) {
	c, s, access, sess, k := startOnline(t) // 10 March, 10:00 in Warsaw
	wantStatus(t, "P_1 tomorrow", onlineStatus(t, c, s, access, sess, k, issuedOn(t, "P1-1", "2026-03-11")), 450, "(P_1) 2026-03-11")
	wantStatus(t, "P_1 today", onlineStatus(t, c, s, access, sess, k, issuedOn(t, "P1-2", "2026-03-10")), 200, "")

	batch := batchStatuses(t, s, access, map[string][]byte{"tomorrow.xml": issuedOn(t, "P1-3", "2026-03-11"), "today.xml": issuedOn(t, "P1-4", "2026-03-10")})
	wantStatus(t, "batch, P_1 tomorrow", batch["tomorrow.xml"], 450, "(P_1) 2026-03-11")
	wantStatus(t, "batch, P_1 today", batch["today.xml"], 200, "")

	c.Advance(time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC).Sub(c.Now())) // 00:30 on 11 March in Warsaw
	access, _ = login2(t, s, c)
	sess, k = openOnline(t, s, access)
	wantStatus(t, "P_1 of the Polish day that has begun", onlineStatus(t, c, s, access, sess, k, issuedOn(t, "P1-5", "2026-03-11")), 200, "")
}

// TestAttachmentConsent: invoices with a Zalacznik need the consent reported in e-Urząd Skarbowy
// (weryfikacja-faktury.md); without it a batch invoice ends with 415. The TEST endpoints of
// open-api.json switch it and GET /permissions/attachments/status reports it; every NIP has it
// until revoked.
func TestAttachmentConsent(t *testing.T) {
	c, s, access, _, _ := startOnline(t)
	status := func() map[string]any {
		t.Helper()
		return must(t, call(t, "GET", s.URL()+"/permissions/attachments/status", access, nil), 200).json(t)
	}
	sendBoth := func(round string) (attached, plain map[string]any) {
		t.Helper()
		got := batchStatuses(t, s, access, map[string][]byte{"z.xml": withAttachment(t, "ZAL-"+round), "p.xml": sampleInvoice(t, testNIP, "PLAIN-"+round)})
		return got["z.xml"], got["p.xml"]
	}
	if st := status(); st["isAttachmentAllowed"] != true || st["revokedDate"] != nil {
		t.Fatalf("status by default: %v, want allowed without an end", st)
	}
	attached, _ := sendBoth("1")
	wantStatus(t, "attachment by default", attached, 200, "")

	must(t, call(t, "POST", s.URL()+"/testdata/attachment/revoke", "", map[string]any{"nip": testNIP}), 200)
	if st := status(); st["isAttachmentAllowed"] != false || st["revokedDate"] != fmtTime(c.Now()) {
		t.Errorf("status after the revocation: %v, want not allowed since %s", st, fmtTime(c.Now()))
	}
	attached, plain := sendBoth("2")
	wantStatus(t, "attachment after the revocation", attached, 415, "e-Urząd Skarbowy")
	if attached["description"] != "Brak możliwości wysyłania faktury z załącznikiem" {
		t.Errorf("415 description %q", attached["description"])
	}
	wantStatus(t, "invoice without attachment after the revocation", plain, 200, "")

	must(t, call(t, "POST", s.URL()+"/testdata/attachment", "", map[string]any{"nip": testNIP}), 200)
	attached, _ = sendBoth("3")
	wantStatus(t, "attachment granted again", attached, 200, "")

	// A revocation from a later day leaves the consent until that day begins in Poland.
	must(t, call(t, "POST", s.URL()+"/testdata/attachment/revoke", "", map[string]any{"nip": testNIP, "expectedEndDate": "2026-03-11"}), 200)
	end := fmtTime(time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC))
	if st := status(); st["isAttachmentAllowed"] != true || st["revokedDate"] != end {
		t.Errorf("status before the announced end: %v, want allowed until %s", st, end)
	}
	c.Advance(time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC).Sub(c.Now()))
	access, _ = login2(t, s, c)
	if st := status(); st["isAttachmentAllowed"] != false {
		t.Errorf("status after the announced end: %v, want not allowed", st)
	}
}

// TestAttachmentAdminSwitch: POST /admin/attachments revokes and grants the consent as the TEST
// endpoints do, for tools that drive the simulator without a KSeF client.
func TestAttachmentAdminSwitch(t *testing.T) {
	_, s, access, _, _ := startOnline(t)
	admin := func(body any, code int) {
		t.Helper()
		must(t, call(t, "POST", s.AdminURL()+"/attachments", "", body), code)
	}
	admin(map[string]any{"nip": testNIP, "allowed": false}, 204)
	wantStatus(t, "attachment revoked by the admin", batchStatuses(t, s, access, map[string][]byte{"z.xml": withAttachment(t, "ADM-1")})["z.xml"], 415, testNIP)
	admin(map[string]any{"nip": testNIP, "allowed": true}, 204)
	wantStatus(t, "attachment granted by the admin", batchStatuses(t, s, access, map[string][]byte{"z.xml": withAttachment(t, "ADM-2")})["z.xml"], 200, "")
	admin(map[string]any{"nip": testNIP}, 400)
}

// TestAttachmentOnlineOnlyInATechnicalCorrection: online, an invoice with a Zalacznik gets 415,
// except a technical correction of an offline invoice (weryfikacja-faktury.md, "Wyjątek").
func TestAttachmentOnlineOnlyInATechnicalCorrection(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	wantStatus(t, "attachment online", onlineStatus(t, c, s, access, sess, k, withAttachment(t, "ON-1")), 415, "sesji wsadowej")

	rejected := []byte(strings.Replace(string(withAttachment(t, "ON-2")), "<NIP>3861610227</NIP>", "<NIP>3861610228</NIP>", 1)) // buyer NIP check digit
	correction := func(data []byte, corrected string) map[string]any {
		t.Helper()
		body := sendRequest(t, k, data)
		body["offlineMode"] = true
		if corrected != "" {
			body["hashOfCorrectedInvoice"] = corrected
		}
		ref := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, body), 202).json(t)["referenceNumber"].(string)
		c.Advance(time.Minute)
		return statusOf(invoiceStatus(t, s, access, sess, ref))
	}
	wantStatus(t, "offline invoice with an attachment sent online", correction(rejected, ""), 415, "")
	wantStatus(t, "its technical correction", correction(withAttachment(t, "ON-2"), sha256B64(rejected)), 200, "")
}

// TestUndecryptableInvoiceHasProductionsDetail: 435 carries production's detail "Plik niepoprawnie
// zaszyfrowany" (CIRFMF/ksef-api #677), not the simulator's Go error.
func TestUndecryptableInvoiceHasProductionsDetail(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	body := sendRequest(t, k, sampleInvoice(t, testNIP, "ENC-1"))
	ct := []byte("seventeen bytes!!") // not a whole number of AES blocks
	body["encryptedInvoiceContent"], body["encryptedInvoiceSize"], body["encryptedInvoiceHash"] = base64.StdEncoding.EncodeToString(ct), len(ct), sha256B64(ct)
	ref := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, body), 202).json(t)["referenceNumber"].(string)
	c.Advance(time.Minute)
	st := statusOf(invoiceStatus(t, s, access, sess, ref))
	if fmt.Sprint(st["details"]) != "[Plik niepoprawnie zaszyfrowany]" {
		t.Errorf("status %v, want 435 with production's detail", st)
	}
	wantStatus(t, "undecryptable invoice", st, 435, "")
}
