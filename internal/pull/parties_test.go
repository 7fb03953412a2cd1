package pull

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestPullThirdPartyAndAuthorizedInvoices: invoices where our NIP is a third subject (Podmiot3) or
// the authorized subject (PodmiotUpowazniony) come with the subject3 and authorized exports, into
// their own folders, with the metadata naming our role; neither is mixed into cost or sales.
func TestPullThirdPartyAndAuthorizedInvoices(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	const buyer = "1111111111"
	seed := func(s3, auth string, n int) []ksefsim.SeededInvoice {
		invs := make([]ksefsim.SeedInvoice, n)
		for i, d := range spread(now.Add(-time.Hour), time.Minute, n) {
			invs[i] = ksefsim.SeedInvoice{SellerNIP: otherNIP, BuyerNIP: buyer, PermanentStorageDate: d, Subject3NIP: s3, AuthorizedNIP: auth}
		}
		out, err := e.sim.Seed(invs...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	third := seed(pullNIP, "", 3)
	authorized := seed("", pullNIP, 2)
	seed("9999999999", "9999999999", 2) // someone else's roles: never ours

	st, err := e.pull(e.options(now.Add(-2*time.Hour), "cost", "sales", "subject3", "authorized"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 5 {
		t.Errorf("stats %+v, want 5 written", st)
	}
	assertInbox(t, filepath.Join(e.inbox, "subject3"), third)
	assertInbox(t, filepath.Join(e.inbox, "authorized"), authorized)
	assertInbox(t, filepath.Join(e.inbox, "cost"), nil)
	assertInbox(t, filepath.Join(e.inbox, "sales"), nil)

	var meta struct {
		ThirdSubjects []struct {
			Identifier struct{ Type, Value string }
			Role       int
		}
	}
	files := inboxFiles(t, e.inbox)
	data, err := os.ReadFile(files[third[0].KsefNumber+".json"])
	if err == nil {
		err = json.Unmarshal(data, &meta)
	}
	if err != nil || len(meta.ThirdSubjects) != 1 || meta.ThirdSubjects[0].Identifier.Value != pullNIP {
		t.Errorf("metadata of a third-subject invoice: %s (err %v)", data, err)
	}
	var auth ksef.InvoiceMetadata
	if data, err := os.ReadFile(files[authorized[0].KsefNumber+".json"]); err != nil || json.Unmarshal(data, &auth) != nil || !strings.Contains(string(data), `"authorizedSubject"`) {
		t.Errorf("metadata of an authorized-subject invoice: %s (err %v)", data, err)
	}
	e.assertSimClean()
}
