package status

import (
	"fmt"
	"io"
	"strings"
)

// RenderText writes the report as `ksef-sync status` prints it.
func RenderText(w io.Writer, r *Report) {
	fmt.Fprintf(w, "ksef-sync status at %s (%s)\n", r.GeneratedAt, r.TimeZone)
	fmt.Fprintf(w, "  daemon:               %s\n", DaemonLine(r.Daemon))
	fmt.Fprintf(w, "  service:              %s\n", r.Service)
	if r.Note != "" {
		fmt.Fprintf(w, "  note:                 %s\n", r.Note)
	}
	for i := range r.Companies {
		renderCompany(w, &r.Companies[i])
	}
}

// DaemonLine says in words whether the daemon runs.
func DaemonLine(d Daemon) string {
	switch {
	case d.Running:
		return fmt.Sprintf("running (PID %d on %s, since %s)", d.PID, d.Host, d.StartedAt)
	case d.LastBeat != "":
		return "not running (last seen " + d.LastBeat + ")"
	}
	return "not running (never started on this state folder)"
}

// KSeFLine says in words what the daemon knows about KSeF.
func KSeFLine(k KSeF) string {
	switch k.State {
	case "reachable":
		return "reachable (checked " + k.CheckedAt + ")"
	case "unreachable":
		return "NOT reachable (checked " + k.CheckedAt + "); queued invoices stay safe and are sent when it answers"
	}
	return "unknown (no running daemon has talked to it)"
}

func renderCompany(w io.Writer, c *Company) {
	fmt.Fprintf(w, "\nCompany NIP %s (%s)\n", c.NIP, c.Environment)
	fmt.Fprintf(w, "  KSeF:                 %s\n", KSeFLine(c.KSeF))
	if c.KSeF.Availability != nil { // known only while a daemon watches the status service
		fmt.Fprintf(w, "  KSeF availability:    %s\n", AvailabilityLine(c.KSeF.Availability))
	}
	if c.LastError != nil {
		fmt.Fprintf(w, "  last error:           %s  %s\n", c.LastError.Time, OneLine(c.LastError.Message))
	} else {
		fmt.Fprintf(w, "  last error:           none\n")
	}
	fmt.Fprintf(w, "  last successful send: %s\n", orNever(c.LastSend))
	fmt.Fprintf(w, "  last successful pull: %s\n", orNever(c.LastPull))
	fmt.Fprintf(w, "  next pull:            %s\n", orNever(c.NextPull))
	fmt.Fprintf(w, "  credentials:          %s", c.Credentials)
	if c.CredsExpires != "" {
		fmt.Fprintf(w, ", expires %s", c.CredsExpires)
	}
	fmt.Fprintf(w, "\n")
	n := c.Invoices
	fmt.Fprintf(w, "\n  Invoices: %d = %d accepted + %d rejected + %d in progress; today %d accepted, %d rejected\n",
		n.Total, n.Accepted, n.Rejected, n.InProgress, n.TodayAccepted, n.TodayRejected)
	fmt.Fprintf(w, "\nQueue:\n")
	for _, st := range States {
		fmt.Fprintf(w, "  %-10s %d\n", st, c.Queue[string(st)])
	}
	if len(c.Processing) > 0 {
		fmt.Fprintf(w, "\nProcessing at KSeF (oldest first):\n")
		for _, p := range c.Processing {
			fmt.Fprintf(w, "  %s  processing at KSeF since %s (session %s)\n", p.File, p.Since, p.Session)
		}
	}
	if c.OfflineCount > 0 {
		fmt.Fprintf(w, "\nOffline invoices not yet in KSeF (%d, earliest deadline first):\n", c.OfflineCount)
		for _, o := range c.Offline {
			warn := ""
			if o.Warning != "" {
				warn = "  ** " + o.Warning + " **"
			}
			fmt.Fprintf(w, "  %s  %s  issued %s  %s  send by %s  (%s)%s\n", o.File, o.InvoiceNumber, o.IssueDate, o.Mode, o.Deadline, o.State, warn)
		}
	}
	fmt.Fprintf(w, "\nPull cursors:\n")
	if len(c.Cursors) == 0 {
		fmt.Fprintf(w, "  (none yet)\n")
	}
	for _, s := range SortedKeys(c.Cursors) {
		fmt.Fprintf(w, "  %-10s %s\n", s, c.Cursors[s])
	}
	fmt.Fprintf(w, "\nLast rejections (newest first):\n")
	if len(c.Rejections) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, rj := range c.Rejections {
		fmt.Fprintf(w, "  %s  %s  [%s] %s\n", rj.Time, rj.File, rj.Code, OneLine(rj.Reason))
	}
}

func orNever(s string) string {
	if s == "" {
		return "never"
	}
	return s
}

// OneLine folds whitespace, so a multi-line KSeF description fits one line.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
