package status

import (
	"fmt"
	"io"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// RenderText writes the report as `ksef-sync status` prints it, in l (the configuration's
// language). Machine words (queue states, codes, file names) are never translated.
func RenderText(w io.Writer, r *Report, l msg.Lang) {
	fmt.Fprintln(w, l.T(msg.StHeader, r.GeneratedAt, r.TimeZone))
	field(w, l, msg.StDaemon, DaemonLine(l, r.Daemon))
	field(w, l, msg.StService, ServiceLine(l, r.Service))
	if r.Note != "" {
		field(w, l, msg.StNote, r.Note)
	}
	for i := range r.Companies {
		renderCompany(w, l, &r.Companies[i])
	}
}

// field writes one "  label:   value" line with the values aligned.
func field(w io.Writer, l msg.Lang, label msg.Key, value string) {
	fmt.Fprintf(w, "  %-22s%s\n", l.T(label)+":", value)
}

// DaemonLine says in words whether the daemon runs.
func DaemonLine(l msg.Lang, d Daemon) string {
	switch {
	case d.Running:
		return l.T(msg.StDaemonRunning, d.PID, d.Host, d.StartedAt)
	case d.LastBeat != "":
		return l.T(msg.StDaemonLastSeen, d.LastBeat)
	}
	return l.T(msg.StDaemonNever)
}

var serviceWords = map[string]msg.Key{"running": msg.StServiceRunning, "stopped": msg.StServiceStopped,
	"not installed": msg.StServiceMissing, "unknown": msg.StServiceUnknown}

// ServiceLine says in words what the service manager reports.
func ServiceLine(l msg.Lang, s string) string {
	if k, ok := serviceWords[s]; ok {
		return l.T(k)
	}
	return s
}

// KSeFLine says in words what the daemon knows about KSeF.
func KSeFLine(l msg.Lang, k KSeF) string {
	switch k.State {
	case "reachable":
		return l.T(msg.StKSeFReachable, k.CheckedAt)
	case "unreachable":
		return l.T(msg.StKSeFUnreachable, k.CheckedAt)
	}
	return l.T(msg.StKSeFUnknown)
}

var outboxProblems = map[string]msg.Key{"missing": msg.StOutboxMissing, "denied": msg.StOutboxDenied}

// OutboxLine says in words whether the daemon can list the outbox.
func OutboxLine(l msg.Lang, o Outbox) string {
	switch o.State {
	case "available":
		return l.T(msg.StOutboxAvailable)
	case "unknown":
		return l.T(msg.StOutboxUnknown)
	}
	why, ok := outboxProblems[o.State]
	if !ok {
		why = msg.StOutboxUnreadable
	}
	return l.T(msg.StOutboxDown, o.Since, why)
}

func renderCompany(w io.Writer, l msg.Lang, c *Company) {
	head := l.T(msg.StCompany, c.NIP, c.Environment)
	if c.Name != "" && c.Name != config.DefaultCompanyName {
		head = l.T(msg.StCompanyNamed, c.Name, c.NIP, c.Environment)
	}
	fmt.Fprintf(w, "\n%s\n", head)
	field(w, l, msg.StKSeF, KSeFLine(l, c.KSeF))
	field(w, l, msg.StOutbox, OutboxLine(l, c.Outbox))
	for _, h := range c.Outbox.OtherDaemons {
		fmt.Fprintf(w, "  %-22s%s\n", "", l.T(msg.StOutboxHeld, h.Files, h.Daemon, h.Dir))
	}
	if s := c.Outbox.SharedID; s != nil {
		fmt.Fprintf(w, "  %-22s%s\n", "", l.T(msg.StOutboxSharedID, s.Daemon, s.Other.Host, s.Other.StateDir, s.Me.StateDir))
	}
	if c.KSeF.Availability != nil { // known only while a daemon watches the status service
		field(w, l, msg.StAvailability, AvailabilityLine(l, c.KSeF.Availability))
	}
	lastErr := l.T(msg.StNone)
	if c.LastError != nil {
		lastErr = c.LastError.Time + "  " + OneLine(c.LastError.Message) // a log line: English for support
	}
	field(w, l, msg.StLastError, lastErr)
	field(w, l, msg.StLastSend, OrNever(l, c.LastSend))
	field(w, l, msg.StLastPull, OrNever(l, c.LastPull))
	field(w, l, msg.StNextPull, OrNever(l, c.NextPull))
	creds := c.Credentials
	if c.CredsExpires != "" {
		creds += l.T(msg.StExpires, c.CredsExpires)
	}
	field(w, l, msg.StCredentials, creds)
	n := c.Invoices
	fmt.Fprintf(w, "\n  %s\n", l.T(msg.StInvoices, n.Total, n.Accepted, n.Rejected, n.InProgress, n.TodayAccepted, n.TodayRejected))
	fmt.Fprintf(w, "\n%s\n", l.T(msg.StQueue))
	for _, st := range States {
		fmt.Fprintf(w, "  %-10s %d\n", st, c.Queue[string(st)])
	}
	if len(c.Processing) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T(msg.StProcessing))
		for _, p := range c.Processing {
			fmt.Fprintf(w, "  %s  %s\n", p.File, l.T(msg.StProcessingLine, p.Since, p.Session))
		}
	}
	if len(c.SentWithoutUPO) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T(msg.StNoUPO))
		for _, n := range c.SentWithoutUPO {
			fmt.Fprintf(w, "  %s  %s\n", n.File, l.T(msg.StNoUPOLine, n.KsefNumber, n.Output))
		}
	}
	if c.OfflineCount > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T(msg.StOffline, c.OfflineCount))
		for _, o := range c.Offline {
			warn := ""
			if o.Warning != "" {
				warn = "  ** " + o.Warning + " **"
			}
			fmt.Fprintf(w, "  %s  %s  %s%s\n", o.File, o.InvoiceNumber, l.T(msg.StOfflineLine, o.IssueDate, o.Mode, o.Deadline, o.State), warn)
		}
	}
	fmt.Fprintf(w, "\n%s\n", l.T(msg.StCursors))
	if len(c.Cursors) == 0 {
		fmt.Fprintf(w, "  %s\n", l.T(msg.StNoneYet))
	}
	for _, s := range SortedKeys(c.Cursors) {
		fmt.Fprintf(w, "  %-10s %s\n", s, c.Cursors[s])
	}
	fmt.Fprintf(w, "\n%s\n", l.T(msg.StRejections))
	if len(c.Rejections) == 0 {
		fmt.Fprintf(w, "  %s\n", l.T(msg.StNoneListed))
	}
	for _, rj := range c.Rejections {
		fmt.Fprintf(w, "  %s  %s  [%s] %s\n", rj.Time, rj.File, rj.Code, OneLine(rj.Reason))
	}
}

// OrNever is a time, or "never" ("disabled") in words.
func OrNever(l msg.Lang, s string) string {
	switch s {
	case "":
		return l.T(msg.StNever)
	case "disabled":
		return l.T(msg.StDisabled)
	}
	return s
}

// OneLine folds whitespace, so a multi-line KSeF description fits one line.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
