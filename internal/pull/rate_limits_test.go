package pull

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestExportBudgetFollowsKSeFsTable: with no budget configured, the hourly export budget is our
// share of the invoiceExport limit KSeF reports for the context (GET /rate-limits), not the
// production 20/h: lowered to 3/h (limity-api.md §5, "dopuszcza się ich czasowe obniżenie"), a
// cycle starts OurShare(3) = 2 exports and stops quietly with the budget used up.
func TestExportBudgetFollowsKSeFsTable(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	start := now.AddDate(-1, 0, 0)
	e.seed("sales", spread(start.Add(time.Hour), 9*24*time.Hour, 40)...)
	if err := e.sim.SetContextRateLimit(pullNIP, ksef.GroupInvoiceExport, 8, 16, 3); err != nil {
		t.Fatal(err)
	}
	if err := e.client.RefreshLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.pull(e.options(start, "sales"))
	if want := ksef.OurShare(3); err != nil || st.Exports != want || !st.BudgetExhausted {
		t.Fatalf("pull: stats %+v, err %v; want %d exports and the budget used up", st, err, want)
	}
}
