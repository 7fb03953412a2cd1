package status

import (
	"encoding/json"
	"testing"
)

// TestJSONKeepsTheKeyOrder: Report and Company share their fields through the embedded Headline and
// Standing; the documents keep the key order `status -json` has always written.
func TestJSONKeepsTheKeyOrder(t *testing.T) {
	r := Report{Service: "running", Note: "n",
		Headline: Headline{NIP: "5265877635", LastSend: "s", LastPull: "p", NextPull: "n"},
		Standing: Standing{Credentials: "ok", CredsExpires: "2027-01-01"}}
	r.Companies = []Company{{Name: "acme", Headline: r.Headline, Standing: r.Standing}}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"service":"running","nip":"5265877635","environment":"","lastSuccessfulSend":"s","lastSuccessfulPull":"p",` +
		`"nextPull":"n","queue":null,"lastRejections":null,"pullCursors":null,"credentials":"ok","credentialsExpire":"2027-01-01",` +
		`"note":"n","generatedAt":"","timeZone":"","daemon":{"running":false},"companies":[{"name":"acme","nip":"5265877635",` +
		`"environment":"","lastSuccessfulSend":"s","lastSuccessfulPull":"p","nextPull":"n","queue":null,` +
		`"invoices":{"total":0,"accepted":0,"rejected":0,"inProgress":0,"todayAccepted":0,"todayRejected":0},` +
		`"lastRejections":null,"pullCursors":null,"credentials":"ok","credentialsExpire":"2027-01-01",` +
		`"ksef":{"state":""},"outbox":{"state":""}}]}`
	if string(got) != want {
		t.Errorf("status JSON\n got %s\nwant %s", got, want)
	}
}
