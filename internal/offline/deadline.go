package offline

import (
	"fmt"
	"slices"
	"time"
)

// Mode is why an invoice was issued outside KSeF; it decides the sending deadline.
type Mode string

// The modes of tryby-offline.md.
const (
	// Offline24: the taxpayer's choice (art. 106nda): send by the next business day after the
	// issue date (P_1).
	Offline24 Mode = "offline24"
	// Unavailable: KSeF unavailable, announced by the ministry (art. 106nh): send by the next
	// business day after the unavailability ends.
	Unavailable Mode = "unavailable"
	// Failure: a failure announced in KSeF's status service (art. 106nf): send within 7 business days
	// after the failure ends; a new announcement restarts the count.
	Failure Mode = "failure"
	// TotalFailure: announced in the mass media: no obligation to send at all.
	TotalFailure Mode = "total-failure"
)

// Period is an outage KSeF announced, or the one we observed, from Start to End (zero while it
// lasts).
type Period struct {
	Start, End time.Time
	// Total marks an announced total failure ("awaria całkowita"), which lifts the obligation to
	// send the invoices whose deadline runs when it is announced (Compute).
	Total bool
}

// Deadline is when an invoice must have reached KSeF: the end of the day Day (23:59:59.999… in
// Warsaw). None means the law sets no obligation (total failure); Open means the deadline cannot be
// known yet because the outage it counts from has not ended.
type Deadline struct {
	Day  time.Time // midnight in Warsaw of the last allowed day
	None bool
	Open bool
}

// Due is the last instant of the deadline day.
func (d Deadline) Due() time.Time { return d.Day.AddDate(0, 0, 1).Add(-time.Nanosecond) }

func (d Deadline) String() string {
	switch {
	case d.None:
		return "no obligation (total failure)"
	case d.Open:
		return "counts from the end of the outage"
	}
	return d.Day.Format("2006-01-02")
}

// Compute returns the deadline for an invoice issued on issueDate in mode m. outage is the
// unavailability or failure the mode refers to (ignored for offline24). failures are the failures
// announced in KSeF's status service that are known (any order; the invoice's own one may be among
// them): one announced while the deadline runs moves it to 7 business days after that failure ends,
// when that is later. For offline24 and unavailability that is "a failure during offline24/offline
// moves their deadline"; for the failure mode it is "a new announcement restarts the count"
// (ksef-protocol.md §11, tryby-offline.md). A failure that ended before the invoice was issued, or
// began after its deadline had passed, moves nothing. A total failure announced while the deadline
// runs ends it: "Ogłoszenie awarii całkowitej w trakcie któregokolwiek z powyższych trybów powoduje
// zniesienie obowiązku przesyłania faktur do KSeF" (tryby-offline.md).
func Compute(m Mode, issueDate time.Time, outage Period, failures []Period) (Deadline, error) {
	var d Deadline
	switch m {
	case Offline24:
		d = Deadline{Day: AddBusinessDays(issueDate, 1)}
	case Unavailable:
		d = afterEnd(outage, 1)
	case Failure:
		d = afterEnd(outage, 7)
	case TotalFailure:
		return Deadline{None: true}, nil
	default:
		return Deadline{}, fmt.Errorf("unknown offline mode %q", m)
	}
	fs := slices.Clone(failures)
	slices.SortFunc(fs, func(a, b Period) int { return a.Start.Compare(b.Start) })
	for _, f := range fs { // in order: a failure during an already moved deadline moves it again
		if (!f.End.IsZero() && !f.End.After(issueDate)) || (!d.Open && f.Start.After(d.Due())) {
			continue
		}
		if f.Total {
			return Deadline{None: true}, nil
		}
		if n := afterEnd(f, 7); n.Open || (!d.Open && n.Day.After(d.Day)) {
			d = n
		}
	}
	return d, nil
}

// afterEnd counts n business days after an outage's end.
func afterEnd(p Period, n int) Deadline {
	if p.End.IsZero() {
		return Deadline{Open: true}
	}
	return Deadline{Day: AddBusinessDays(p.End, n)}
}

// LessThanOneBusinessDayLeft reports whether the deadline is close enough to warn: its day has
// come (at most that one business day is left) and it has not passed yet.
func LessThanOneBusinessDayLeft(d Deadline, now time.Time) bool {
	if d.None || d.Open {
		return false
	}
	return !now.Before(d.Day) && !Missed(d, now)
}

// Missed reports whether now is past the deadline.
func Missed(d Deadline, now time.Time) bool {
	return !d.None && !d.Open && now.After(d.Due())
}

// ForInvoice is Compute for an invoice as the journal records it: its mode, its issue date P_1
// (YYYY-MM-DD; when unreadable, the day it was claimed counts) and the outage it counts from, with
// the announced failures known (availability.Tracker.Failures in the daemon, the same history saved
// in the journal for status and notifications). It is the one computation of the deadline: the
// engine's warnings and order, `status` and the offline_deadline notification all call it.
func ForInvoice(mode, issueDate string, claimed time.Time, outage Period, failures []Period) (Deadline, error) {
	issued, err := time.ParseInLocation("2006-01-02", issueDate, Warsaw)
	if err != nil {
		issued = claimed
	}
	return Compute(Mode(mode), issued, outage, failures)
}
