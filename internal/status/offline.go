package status

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/spool"
)

// Availability is KSeF's availability as the running daemon sees it: what the status service
// ("Latarnia") announces combined with the daemon's own observations (issue 14). The daemon writes
// it with its heartbeat; its JSON form is part of `status -json`.
type Availability struct {
	// State is available, maintenance, failure, total-failure, unavailable-not-announced or unknown.
	State         string `json:"state"`
	Since         string `json:"since,omitempty"`        // when State began
	Announcement  string `json:"announcement,omitempty"` // the announcement's title and text
	StatusService string `json:"statusService,omitempty"`
	CheckedAt     string `json:"checkedAt,omitempty"` // last check of the status service
	StatusError   string `json:"statusServiceError,omitempty"`
	Summary       string `json:"summary"` // the whole in one line, as the log says it
}

// MarshalAvailability is what the daemon stores with its heartbeat.
func MarshalAvailability(a Availability) string {
	b, _ := json.Marshal(a)
	return string(b)
}

func unmarshalAvailability(s string) *Availability {
	if s == "" {
		return nil
	}
	var a Availability
	if json.Unmarshal([]byte(s), &a) != nil {
		return nil
	}
	return &a
}

// OfflineInvoice is one invoice issued offline that KSeF has not accepted yet, with the legal
// deadline by which it must reach KSeF.
type OfflineInvoice struct {
	File          string `json:"file"`
	InvoiceNumber string `json:"invoiceNumber,omitempty"`
	IssueDate     string `json:"issueDate,omitempty"`
	Mode          string `json:"offlineMode"` // offline24 | unavailable | failure | total-failure
	Deadline      string `json:"deadline"`    // YYYY-MM-DD, or why there is none yet
	State         string `json:"state"`       // its journal state
	Warning       string `json:"warning,omitempty"`
	due           time.Time
}

// maxOffline bounds the list in status; OfflineCount says how many there are in all.
const maxOffline = 100

// offlineInvoices lists nip's offline invoices not accepted yet, earliest deadline first.
func offlineInvoices(ctx context.Context, j *spool.Journal, nip string, now time.Time) ([]OfflineInvoice, int, error) {
	pending, err := j.OfflinePending(ctx, nip)
	if err != nil {
		return nil, 0, err
	}
	failures := availability.JournalFailures(ctx, j) // what the daemon's tracker knows, saved on every change
	out := make([]OfflineInvoice, 0, len(pending))
	for i := range pending {
		inv := &pending[i]
		o := OfflineInvoice{File: inv.FileName, InvoiceNumber: inv.InvoiceNumber, IssueDate: inv.IssueDate,
			Mode: inv.OfflineMode, State: string(inv.State), due: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
		d, err := availability.Deadline(inv, failures)
		if err != nil {
			o.Deadline = err.Error()
		} else {
			o.Deadline = d.String()
			if !d.None && !d.Open {
				o.due = d.Day
			}
			switch {
			case offline.Missed(d, now):
				o.Warning = "deadline missed"
			case offline.LessThanOneBusinessDayLeft(d, now):
				o.Warning = "due today"
			}
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].due.Before(out[b].due) })
	return out[:min(len(out), maxOffline)], len(out), nil
}

// availabilityStates names each announced or observed state in the catalogue.
var availabilityStates = map[string]msg.Key{
	string(availability.Unknown): msg.StAvailUnknown, string(availability.Available): msg.StAvailAvailable,
	string(availability.Unannounced): msg.StAvailUnannounced, string(availability.Maintenance): msg.StAvailMaintenance,
	string(availability.Failure): msg.StAvailFailure, string(availability.TotalFailure): msg.StAvailTotal,
}

// AvailabilityLine says in words, in l, what the daemon knows of KSeF's availability. It is built
// from the fields, not from Summary, which stays English as the log says it.
func AvailabilityLine(l msg.Lang, a *Availability) string {
	if a == nil {
		return l.T(msg.StAvailNoDaemon)
	}
	var b strings.Builder
	if k, ok := availabilityStates[a.State]; ok {
		b.WriteString(l.T(k))
	} else {
		b.WriteString(l.T(msg.StAvailOther, a.State))
	}
	if t, err := time.Parse(time.RFC3339, a.Since); err == nil && a.State != string(availability.Unknown) {
		b.WriteString(l.T(msg.StAvailSince, t.In(offline.Warsaw).Format("2006-01-02 15:04")))
	}
	if a.Announcement != "" {
		b.WriteString(": " + a.Announcement) // KSeF's own words, as the status service wrote them
	}
	if a.StatusError != "" {
		b.WriteString(l.T(msg.StAvailStatusError, a.StatusError))
	}
	return b.String()
}
