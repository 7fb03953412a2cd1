package pull

import (
	"errors"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestDecide lists the cursor rule: where the next window starts and whether the subject is caught
// up, for every kind of package KSeF can return.
func TestDecide(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(maxWindow)
	at := func(d time.Duration) *time.Time { v := from.Add(d); return &v }
	closed := window{From: from, To: &to}
	closedLast := window{From: from, To: &to, Last: true}
	open := window{From: from, Last: true}
	ms := time.Millisecond
	tests := []struct {
		name       string
		pkg        ksef.ExportPackage
		w          window
		restricted bool
		o          outcome
		want       step
		wantErr    error
	}{
		{"older window: HWM equals to, the walk goes on from to", ksef.ExportPackage{PermanentStorageHwmDate: &to}, closed, true, outcome{},
			step{next: to}, nil},
		{"older window: HWM is to at KSeF's precision", ksef.ExportPackage{PermanentStorageHwmDate: at(maxWindow - ms/2)}, closed, true, outcome{},
			step{next: to}, nil},
		{"HWM above to (an older KSeF): still from to", ksef.ExportPackage{PermanentStorageHwmDate: at(maxWindow + time.Hour)}, closed, true, outcome{},
			step{next: to}, nil},
		{"recent period: HWM short of to, caught up at the HWM", ksef.ExportPackage{PermanentStorageHwmDate: at(maxWindow - time.Minute)}, closed, true, outcome{},
			step{next: *at(maxWindow - time.Minute), caughtUp: true}, nil},
		{"window without to: caught up at its HWM", ksef.ExportPackage{PermanentStorageHwmDate: at(time.Hour)}, open, true, outcome{},
			step{next: *at(time.Hour), caughtUp: true}, nil},
		{"truncated: continue from lastPermanentStorageDate", ksef.ExportPackage{IsTruncated: true, LastPermanentStorageDate: at(time.Hour), PermanentStorageHwmDate: &to}, closed, true, outcome{},
			step{next: *at(time.Hour)}, nil},
		{"truncated without the date: the metadata's latest", ksef.ExportPackage{IsTruncated: true}, open, true, outcome{lastPS: *at(2 * time.Hour)},
			step{next: *at(2 * time.Hour)}, nil},
		{"truncated without any date: blocked", ksef.ExportPackage{IsTruncated: true}, open, true, outcome{},
			step{}, errNoContinuation},
		{"full package claiming complete (#821), old window: continue from the metadata's latest, not to",
			ksef.ExportPackage{InvoiceCount: ksef.MaxExportInvoices + 1, PermanentStorageHwmDate: &to}, closed, true,
			outcome{entries: ksef.MaxExportInvoices + 1, lastPS: *at(2 * time.Hour)}, step{next: *at(2 * time.Hour), fullNotTruncated: true}, nil},
		{"full package claiming complete, recent period: not caught up at the HWM",
			ksef.ExportPackage{InvoiceCount: ksef.MaxExportInvoices, PermanentStorageHwmDate: at(3 * time.Hour)}, open, true,
			outcome{entries: ksef.MaxExportInvoices, lastPS: *at(2 * time.Hour)}, step{next: *at(2 * time.Hour), fullNotTruncated: true}, nil},
		{"full by _metadata.json though invoiceCount says less", ksef.ExportPackage{InvoiceCount: 1, PermanentStorageHwmDate: at(3 * time.Hour)}, open, true,
			outcome{entries: ksef.MaxExportInvoices, lastPS: *at(2 * time.Hour)}, step{next: *at(2 * time.Hour), fullNotTruncated: true}, nil},
		{"one short of full: KSeF's flag stands", ksef.ExportPackage{InvoiceCount: ksef.MaxExportInvoices - 1, PermanentStorageHwmDate: at(3 * time.Hour)}, open, true,
			outcome{entries: ksef.MaxExportInvoices - 1, lastPS: *at(2 * time.Hour)}, step{next: *at(3 * time.Hour), caughtUp: true}, nil},
		{"one-off (no HWM rule): window by window", ksef.ExportPackage{PermanentStorageHwmDate: at(time.Hour)}, closed, false, outcome{},
			step{next: to}, nil},
		{"one-off last window", ksef.ExportPackage{}, closedLast, false, outcome{}, step{next: to, caughtUp: true}, nil},
		{"no HWM reported: the cursor stays", ksef.ExportPackage{}, open, true, outcome{}, step{caughtUp: true}, nil},
		{"corrupt invoice: held at it", ksef.ExportPackage{PermanentStorageHwmDate: &to}, closed, true, outcome{corrupt: true, firstCorrupt: *at(time.Hour)},
			step{next: *at(time.Hour)}, ErrCorruptInvoice},
		{"entry without metadata: held at the window start", ksef.ExportPackage{PermanentStorageHwmDate: at(time.Hour)}, open, true, outcome{orphans: 1},
			step{next: from}, ErrCorruptInvoice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(&tt.pkg, tt.w, tt.restricted, tt.o)
			if !errors.Is(got.blocked, tt.wantErr) || (tt.wantErr == nil) != (got.blocked == nil) {
				t.Errorf("blocked = %v, want %v", got.blocked, tt.wantErr)
			}
			if !got.next.Equal(tt.want.next) || got.caughtUp != tt.want.caughtUp || got.fullNotTruncated != tt.want.fullNotTruncated {
				t.Errorf("next %s caughtUp %v fullNotTruncated %v, want %s %v %v", got.next, got.caughtUp, got.fullNotTruncated,
					tt.want.next, tt.want.caughtUp, tt.want.fullNotTruncated)
			}
		})
	}
}
