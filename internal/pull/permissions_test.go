package pull

import (
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// TestPullWithoutInvoiceReadWaitsForTheNextCycle: the company granted the office InvoiceWrite
// only, so KSeF refuses the export with 403 missing-permissions. The cycle does not fail: the
// subject stays behind at its cursor, nothing is written, and the log says to ask the company for
// InvoiceRead. Once the company grants it, the next cycle delivers.
func TestPullWithoutInvoiceReadWaitsForTheNextCycle(t *testing.T) {
	const office = "1111111111"
	e := newPullEnv(t)
	if err := e.sim.GrantPermissions(office, pullNIP, ksefsim.PermissionInvoiceWrite); err != nil {
		t.Fatal(err)
	}
	client, err := ksef.New(ksef.Options{BaseURL: e.sim.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: pullNIP},
		Auth: ksef.XadesAuth{Credentials: simtest.Certificate(t, office), Now: e.clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	e.client = client
	start := e.clock.Now().Add(-time.Hour)
	seeded := e.seed("cost", start.Add(10*time.Minute))
	e.clock.Advance(pullStep)

	st, err := e.pull(e.options(start, "cost"))
	if err != nil {
		t.Fatalf("a missing permission failed the pull: %v", err)
	}
	if len(st.Behind) != 1 || st.Behind[0].Subject != "cost" || !st.Behind[0].Cursor.Equal(start) || st.Exports != 0 {
		t.Errorf("stats %+v, want cost behind at its start and no export", st)
	}
	if want := "ask the company to grant InvoiceRead"; !strings.Contains(e.logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, e.logs)
	}
	if files := inboxFiles(t, e.inbox); len(files) != 0 {
		t.Errorf("files written without InvoiceRead: %v", files)
	}

	e.sim.Grant(office, pullNIP)
	if _, err := e.pull(e.options(start, "cost")); err != nil {
		t.Fatal(err)
	}
	assertInbox(t, e.inbox, seeded)
}
