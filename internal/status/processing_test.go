package status

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

// TestProcessingAtKSeF: invoices KSeF took but has not decided are listed (oldest first; submitted
// in the same second they keep the journal's order) with the time KSeF took them, so "sending 1"
// during hours at status 150 is not all status says.
func TestProcessingAtKSeF(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := spooltest.Open(t, filepath.Join(dir, "state"))
	const nip = "5265877635"
	for _, name := range []string{"FV_old.xml", "FV_new.xml"} {
		id := spooltest.Claim(t, j, nip, filepath.Join(dir, name), "<Faktura>"+name+"</Faktura>").ID
		must(t, j.MarkReady(ctx, time.Now(), []spool.Prepared{{ID: id}}))
		must(t, j.MarkSending(ctx, []int64{id}, spool.Sending{Mode: "online", SessionRef: "S-" + name}))
		must(t, j.MarkSubmitted(ctx, id, "I-"+name))
	}
	got, err := processing(ctx, j, nip, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].File != "FV_old.xml" || got[1].File != "FV_new.xml" || got[0].Session != "S-FV_old.xml" || got[0].Since == "" {
		t.Fatalf("processing = %+v, want FV_old.xml then FV_new.xml with their sessions and times", got)
	}
	var b strings.Builder
	renderCompany(&b, msg.EN, &Company{Headline: Headline{Queue: map[string]int{}}, Processing: got})
	if !strings.Contains(b.String(), "FV_old.xml  processing at KSeF since "+got[0].Since) {
		t.Errorf("status text lacks the processing line:\n%s", b.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
