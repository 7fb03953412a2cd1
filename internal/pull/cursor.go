package pull

import (
	"errors"
	"fmt"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// maxWindow keeps every export range inside KSeF's 3-month limit, with a margin for month lengths
// and the Warsaw/UTC difference.
const maxWindow = 89 * 24 * time.Hour

// window is one export's PermanentStorage range. A nil To means "up to the high-water mark";
// Last marks the window that ends the cycle once it is delivered without truncation.
type window struct {
	From time.Time
	To   *time.Time
	Last bool
}

// window returns the next export range starting at from, at most maxWindow long.
func (p *Puller) window(from time.Time) window {
	limit := p.now()
	if p.o.OneOff && !p.o.Until.IsZero() {
		limit = p.o.Until
	}
	if limit.Sub(from) > maxWindow {
		to := from.Add(maxWindow)
		return window{From: from, To: &to}
	}
	if p.o.OneOff {
		return window{From: from, To: &limit, Last: true}
	}
	return window{From: from, Last: true}
}

// timePrecision is how finely KSeF writes times: the HWM it reports for an older window is our
// `to` at its precision (microseconds at KSeF, milliseconds in the simulator), not to the
// nanosecond, so a HWM less than this below `to` is `to`.
const timePrecision = time.Millisecond

// step is the cursor rule's one decision after an export was delivered.
type step struct {
	next     time.Time // the cursor from now on; zero: it stays where it was
	caughtUp bool      // the subject reached KSeF's high-water mark (or the one-off's end)
	blocked  error     // not everything arrived intact: the cursor holds at next and the subject stops
	// fullNotTruncated: KSeF said the package was complete although it holds as many invoices as a
	// package may; it was read as truncated (see packageFull)
	fullNotTruncated bool
}

// outcome is what the cursor rule needs to know about a delivered package.
type outcome struct {
	entries      int       // records in the package's _metadata.json
	lastPS       time.Time // latest PermanentStorage date in the package's metadata
	firstCorrupt time.Time // earliest PermanentStorage date of an invoice not delivered intact
	corrupt      bool
	orphans      int // archive entries without a metadata record: no date to hold the cursor at
}

// decide is the cursor rule, after KSeF's incremental-sync recipe
// (CIRFMF/ksef-docs, pobieranie-faktur/przyrostowe-pobieranie-faktur.md):
//
//	"Każde kolejne okno rozpoczyna się dokładnie w momencie zakończenia poprzedniego z
//	uwzględnieniem HWM […]. Przez „moment zakończenia" rozumie się:
//	- wartość `dateRange.to`, gdy została podana, lub
//	- `PermanentStorageHwmDate` gdy `dateRange.to` pominięto."
//	"Gdy `IsTruncated = true`, kolejne wywołanie należy rozpocząć od `LastPermanentStorageDate`,
//	gdy `IsTruncated = false`, kolejne wywołanie należy rozpocząć od zwróconego
//	`PermanentStorageHwmDate`."
//
// and open-api.json, InvoicePackage.permanentStorageHwmDate: "Jeśli zapytanie dotyczyło
// najnowszego okresu, wartość ta może być wartością nieznacznie skorygowaną względem górnej granicy
// podanej w warunkach zapytania. Dla okresów starszych, będzie to zgodne z warunkami zapytania."
//
// So for an older window the HWM equals its `to` and the walk goes on from there; only a HWM short
// of `to` (the recent period) or the HWM of a window without `to` means the subject is caught up.
// The cursor never passes an invoice that did not arrive intact.
func decide(pkg *ksef.ExportPackage, w window, restricted bool, o outcome) step {
	s := advance(pkg, w, restricted, o)
	if o.orphans > 0 {
		o.corrupt, o.firstCorrupt = true, w.From // hold the whole window
	}
	if !o.corrupt {
		return s
	}
	if s.next.IsZero() || o.firstCorrupt.Before(s.next) {
		s.next = o.firstCorrupt
	}
	s.caughtUp = false
	s.blocked = fmt.Errorf("%w (%d entries without metadata); the cursor stays at %s to fetch them again",
		ErrCorruptInvoice, o.orphans, s.next.Format(time.RFC3339Nano))
	return s
}

// errNoContinuation: a truncated package named no date to continue from.
var errNoContinuation = errors.New("truncated package without lastPermanentStorageDate or metadata; the cursor stays")

// packageFull reports whether the package holds as many invoices as one may (ksef.MaxExportInvoices),
// by KSeF's count or by its _metadata.json. Production KSeF has answered such a package with
// isTruncated false and no lastPermanentStorageDate while more invoices matched (CIRFMF/ksef-api
// #821: "InvoiceCount: 10001, [...] IsTruncated: False"); trusting it moved the cursor past the
// rest for good. So a full package is read as truncated whatever it says: an honest complete one
// costs one more export, which brings only duplicates.
func packageFull(pkg *ksef.ExportPackage, entries int) bool {
	return pkg.InvoiceCount >= ksef.MaxExportInvoices || entries >= ksef.MaxExportInvoices
}

// advance is the rule for a package that arrived intact.
func advance(pkg *ksef.ExportPackage, w window, restricted bool, o outcome) step {
	if pkg.IsTruncated || packageFull(pkg, o.entries) {
		s := continueAfter(pkg, o.lastPS)
		s.fullNotTruncated = !pkg.IsTruncated
		return s
	}
	if hwm := pkg.PermanentStorageHwmDate; restricted && hwm != nil {
		if w.To == nil || hwm.Before(w.To.Add(-timePrecision)) {
			// The recent period: never move past the HWM, because invoices in (HWM, now] may still
			// appear with PermanentStorage dates there.
			return step{next: *hwm, caughtUp: true}
		}
		return step{next: *w.To, caughtUp: w.Last}
	}
	if w.To != nil {
		return step{next: *w.To, caughtUp: w.Last}
	}
	return step{caughtUp: true} // no HWM reported: keep the cursor, the next cycle repeats the range
}

// continueAfter is where the walk goes on after a truncated package: lastPermanentStorageDate, or
// the latest date in _metadata.json when KSeF named none.
func continueAfter(pkg *ksef.ExportPackage, lastPS time.Time) step {
	if pkg.LastPermanentStorageDate != nil {
		return step{next: *pkg.LastPermanentStorageDate}
	}
	if !lastPS.IsZero() {
		return step{next: lastPS}
	}
	return step{blocked: errNoContinuation}
}
