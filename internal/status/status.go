// Package status builds the status document that `ksef-sync status`, the status page and
// /api/status all show, so the command line and the HTTP server can never disagree.
//
// Everything comes from the journal (shared by every process) plus the daemon's heartbeat row in
// it; nothing is asked of the running daemon directly.
package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/spool"
)

// BeatEvery is how often the daemon refreshes its heartbeat; a heartbeat older than StaleAfter
// means no daemon is running (or it hangs).
const (
	BeatEvery  = 5 * time.Second
	StaleAfter = 30 * time.Second
)

// Report is the status document. The top-level fields up to Note are the original `status -json`
// contract and describe the first company; never rename them. Companies holds the same per company:
// Headline and Standing are shared with Company so that the two can never drift apart.
type Report struct {
	Service string `json:"service"`
	Headline
	Standing
	Note string `json:"note,omitempty"`

	GeneratedAt string    `json:"generatedAt"` // local time with its UTC offset
	TimeZone    string    `json:"timeZone"`
	Daemon      Daemon    `json:"daemon"`
	Companies   []Company `json:"companies"`
}

// Headline is who the company is at KSeF, when it last sent and pulled, and what waits to be sent.
type Headline struct {
	NIP         string         `json:"nip"`
	Environment string         `json:"environment"`
	LastSend    string         `json:"lastSuccessfulSend,omitempty"`
	LastPull    string         `json:"lastSuccessfulPull,omitempty"`
	NextPull    string         `json:"nextPull,omitempty"`
	Queue       map[string]int `json:"queue"`
}

// Standing is what needs the bookkeeper's eye: recent rejections, how far the pull has come and
// whether the credentials still hold.
type Standing struct {
	Rejections   []Rejection       `json:"lastRejections"`
	Cursors      map[string]string `json:"pullCursors"`
	Credentials  string            `json:"credentials"`
	CredsExpires string            `json:"credentialsExpire,omitempty"`
}

// Daemon says whether a daemon is running on this state folder, from its heartbeat.
type Daemon struct {
	Running   bool   `json:"running"`
	PID       int    `json:"pid,omitempty"`
	Host      string `json:"host,omitempty"`
	Version   string `json:"version,omitempty"`
	StartedAt string `json:"startedAt,omitempty"`
	LastBeat  string `json:"lastHeartbeat,omitempty"`
}

// Company is one company's part of the document. Its fields keep the order of the JSON it has
// always had: Invoices stands between the Headline and the Standing fields.
type Company struct {
	Name string `json:"name"` // the configured name ("default" in the single-company form)
	Headline
	Invoices Counts `json:"invoices"`
	Standing
	KSeF      KSeF       `json:"ksef"`
	Outbox    Outbox     `json:"outbox"`
	LastError *LastError `json:"lastError,omitempty"`
	// Processing lists invoices KSeF has taken but not decided yet, oldest first (at most 20):
	// production KSeF can keep an invoice at status 150 for hours.
	Processing []Processing `json:"processingAtKSeF,omitempty"`
	// Offline lists invoices issued offline that KSeF has not accepted yet, earliest deadline first
	// (at most 100; OfflineCount counts them all).
	Offline      []OfflineInvoice `json:"offlineInvoices,omitempty"`
	OfflineCount int              `json:"offlineInvoicesPending,omitempty"`
	// SentWithoutUPO lists accepted invoices whose outputs were written without a UPO because KSeF
	// would not give it (issue 10 §7), newest first (at most 20).
	SentWithoutUPO []NoUPO `json:"sentWithoutUPO,omitempty"`
}

// NoUPO is one accepted invoice whose outputs have no UPO; its .ksef.json says why (upoMissing).
type NoUPO struct {
	File       string `json:"file"`
	KsefNumber string `json:"ksefNumber"`
	Output     string `json:"output"` // sent/<stem>.ksef.json
}

// Counts are the verdicts; Total = Accepted + Rejected + InProgress always holds.
type Counts struct {
	Total         int `json:"total"`
	Accepted      int `json:"accepted"`
	Rejected      int `json:"rejected"`
	InProgress    int `json:"inProgress"`
	TodayAccepted int `json:"todayAccepted"`
	TodayRejected int `json:"todayRejected"`
}

// KSeF is what the daemon last knew about KSeF's reachability.
type KSeF struct {
	State     string `json:"state"` // reachable | unreachable | unknown
	CheckedAt string `json:"checkedAt,omitempty"`
	// Availability is the status service's announcement combined with the daemon's observations
	// (offline.go); absent without a running daemon.
	Availability *Availability `json:"availability,omitempty"`
}

// LastError is the last warning or error the daemon logged for the company.
type LastError struct {
	Time    string `json:"time"`
	Message string `json:"message"`
}

// Processing is one invoice waiting for KSeF's verdict.
type Processing struct {
	File    string `json:"file"`
	Since   string `json:"since"` // when KSeF took it
	Session string `json:"session"`
}

// maxProcessing bounds the list in status; the queue counts say how many there are in all.
const maxProcessing = 20

// Rejection is one rejected invoice.
type Rejection struct {
	Time      string `json:"time"`
	File      string `json:"file"`
	Code      string `json:"code"`
	Reason    string `json:"reason"`
	Hint      string `json:"hint,omitempty"`
	ErrorFile string `json:"errorFile,omitempty"` // name in the error folder, once written
}

// Options are what the journal cannot know.
type Options struct {
	Config       *config.Config
	Service      string // the service manager's view: running, stopped, not installed, unknown
	Credentials  string // login method in words
	CredsExpires string // YYYY-MM-DD or ""
	Now          time.Time
	Rejections   int // how many to list; 20 when 0
	// CredentialsOf, when set, names each company's login method and its expiry (many companies log
	// in differently); otherwise Credentials and CredsExpires hold for all.
	CredentialsOf func(config.Company) (string, string)
	// Only lists the company names (or NIPs) to report; empty: all.
	Only []string
}

// Collect builds the report, opening the journal read-only (safe while the daemon writes).
func Collect(ctx context.Context, o Options) (*Report, error) {
	j, err := spool.OpenReadOnly(ctx, o.Config.Folders.State)
	if errors.Is(err, fs.ErrNotExist) {
		return Build(ctx, nil, o)
	}
	if err != nil {
		return nil, fmt.Errorf("open journal in %s: %w", o.Config.Folders.State, err)
	}
	defer j.Close()
	return Build(ctx, j, o)
}

// Build builds the report from an open journal; a nil journal means the daemon never ran.
func Build(ctx context.Context, j *spool.Journal, o Options) (*Report, error) {
	cfg := o.Config
	now := o.Now
	zone, _ := now.Zone()
	rep := &Report{Service: o.Service, GeneratedAt: now.Format(time.RFC3339), TimeZone: zoneName(now.Location(), zone)}
	var beat spool.Beat
	if j != nil {
		b, ok, err := j.LastBeat(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			beat = b
			rep.Daemon = daemonOf(b, now)
		}
	}
	for _, co := range cfg.Companies() {
		if len(o.Only) > 0 && !slices.Contains(o.Only, co.Name) && !slices.Contains(o.Only, co.NIP) {
			continue
		}
		c, err := buildCompany(ctx, j, cfg.ForCompany(co).MetaScope(), co, beat, o)
		if err != nil {
			return nil, err
		}
		rep.Companies = append(rep.Companies, *c)
	}
	if len(rep.Companies) == 0 {
		return nil, fmt.Errorf("no company is called %s", strings.Join(o.Only, ", "))
	}
	first := rep.Companies[0]
	rep.Headline, rep.Standing = first.Headline, first.Standing
	if j == nil {
		rep.Note = cfg.Lang().T(msg.StNoJournal, cfg.Folders.State)
	}
	return rep, nil
}

func zoneName(loc *time.Location, abbrev string) string {
	if n := loc.String(); n != "" && n != "Local" {
		return n
	}
	return abbrev
}

// alive says whether the heartbeat b shows a running daemon: recent, and not the PID-less beat a
// daemon writes when it stops cleanly.
func alive(b spool.Beat, now time.Time) bool {
	return b.PID != 0 && !b.BeatAt.IsZero() && now.Sub(b.BeatAt) < StaleAfter
}

func daemonOf(b spool.Beat, now time.Time) Daemon {
	d := Daemon{Running: alive(b, now), Version: b.Version, Host: b.Host,
		StartedAt: local(b.StartedAt, now), LastBeat: local(b.BeatAt, now)}
	if d.Running {
		d.PID = b.PID
	}
	return d
}

// local formats t in the report's zone, the one the reader's clock shows.
func local(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(now.Location()).Format(time.RFC3339)
}

func buildCompany(ctx context.Context, j *spool.Journal, scope string, co config.Company, beat spool.Beat, o Options) (*Company, error) {
	c := &Company{Name: co.Name,
		Headline: Headline{NIP: co.NIP, Environment: co.KSeF.Environment, Queue: map[string]int{}, NextPull: nextPull(co.Pull, o.Now)},
		Standing: Standing{Rejections: []Rejection{}, Cursors: map[string]string{}, Credentials: o.Credentials, CredsExpires: o.CredsExpires},
		KSeF:     KSeF{State: "unknown"}, Outbox: Outbox{State: "unknown"}}
	if o.CredentialsOf != nil {
		c.Credentials, c.CredsExpires = o.CredentialsOf(co)
	}
	for _, h := range beat.Companies {
		if h.NIP == co.NIP {
			applyHealth(c, h, beat, o.Now)
		}
	}
	held := otherClaims(o.Config.Folders.State, co.Folders.Outbox)
	shared := sharedID(o.Config.Folders.State, co.Folders.Outbox, o.Now)
	c.Outbox.OtherDaemons, c.Outbox.SharedID = held, shared
	if j == nil {
		return c, nil
	}
	// One journal serves every company: meta keys carry the company's scope (config.MetaKey).
	c.Outbox = outboxOf(ctx, j, config.MetaKey(OutboxMetaKey, scope), beat, o.Now)
	c.Outbox.OtherDaemons, c.Outbox.SharedID = held, shared
	c.LastSend, _, _ = j.Meta(ctx, config.MetaKey("last_send_output", scope))
	c.LastPull, _, _ = j.Meta(ctx, config.MetaKey("last_pull", scope))
	y, m, d := o.Now.Date()
	t, err := j.CountTally(ctx, co.NIP, time.Date(y, m, d, 0, 0, 0, 0, o.Now.Location()))
	if err != nil {
		return nil, err
	}
	for st, n := range t.ByState {
		c.Queue[string(st)] = n
	}
	c.Invoices = Counts{Total: t.Total, Accepted: t.Accepted, Rejected: t.Rejected, InProgress: t.InProgress,
		TodayAccepted: t.TodayAccepted, TodayRejected: t.TodayRejected}
	n := o.Rejections
	if n <= 0 {
		n = 20
	}
	rej, err := j.RecentRejections(ctx, co.NIP, n)
	if err != nil {
		return nil, err
	}
	for i := range rej {
		c.Rejections = append(c.Rejections, RejectionOf(&rej[i]))
	}
	if c.Processing, err = processing(ctx, j, co.NIP, o.Now); err != nil {
		return nil, err
	}
	if c.SentWithoutUPO, err = sentWithoutUPO(ctx, j, co.NIP); err != nil {
		return nil, err
	}
	if c.Offline, c.OfflineCount, err = offlineInvoices(ctx, j, co.NIP, o.Now); err != nil {
		return nil, err
	}
	cursors, err := j.Cursors(ctx, co.NIP)
	if err != nil {
		return nil, err
	}
	for s, cur := range cursors {
		c.Cursors[s] = cur.UTC().Format(time.RFC3339)
	}
	return c, nil
}

// applyHealth copies what the daemon reported; a stale heartbeat's reachability is no longer known.
func applyHealth(c *Company, h spool.CompanyHealth, beat spool.Beat, now time.Time) {
	if h.LastError != "" {
		c.LastError = &LastError{Time: local(h.LastErrorAt, now), Message: h.LastError}
	}
	if !alive(beat, now) {
		return
	}
	switch h.KSeFAvailable {
	case 1:
		c.KSeF.State = "reachable"
	case 0:
		c.KSeF.State = "unreachable"
	}
	c.KSeF.CheckedAt = local(h.KSeFCheckedAt, now)
	c.KSeF.Availability = unmarshalAvailability(h.Availability)
}

// RejectionOf describes one rejected journal record.
func RejectionOf(r *spool.Invoice) Rejection {
	rj := Rejection{Time: r.UpdatedAt.UTC().Format(time.RFC3339), File: r.FileName, Code: Code(r),
		Reason: r.ErrDescription, Hint: r.ErrHint}
	if r.State == spool.StateDone && r.OutputStem != "" {
		rj.ErrorFile = r.OutputStem + ".error.json"
	}
	return rj
}

// Code is the code shown for a rejection: the validation code or KSeF's status code.
func Code(r *spool.Invoice) string {
	if r.ErrStage == "validation" {
		return r.ErrKind
	}
	return fmt.Sprint(r.ErrCode)
}

func nextPull(p config.Pull, now time.Time) string {
	if !p.Enabled {
		return "disabled"
	}
	s, err := cron.ParseStandard(p.Schedule)
	if err != nil {
		return ""
	}
	return s.Next(now).UTC().Format(time.RFC3339)
}

// States lists the queue states in life-cycle order, for display.
var States = []spool.State{spool.StateClaiming, spool.StateClaimed, spool.StateReady, spool.StateSending,
	spool.StateSubmitted, spool.StateAccepted, spool.StateRejected, spool.StateDone}

// SortedKeys returns m's keys sorted.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// processing lists the submitted invoices, oldest first. A submitted record is not touched again
// until KSeF's verdict, so its last update is when KSeF took it.
func processing(ctx context.Context, j *spool.Journal, nip string, now time.Time) ([]Processing, error) {
	subs, err := j.ByState(ctx, nip, spool.StateSubmitted)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(subs, func(a, b int) bool { return subs[a].UpdatedAt.Before(subs[b].UpdatedAt) })
	var out []Processing
	for i := range subs[:min(len(subs), maxProcessing)] {
		out = append(out, Processing{File: subs[i].FileName, Since: local(subs[i].UpdatedAt, now), Session: subs[i].SessionRef})
	}
	return out, nil
}

// sentWithoutUPO lists the accepted invoices whose outputs were written without a UPO.
func sentWithoutUPO(ctx context.Context, j *spool.Journal, nip string) ([]NoUPO, error) {
	invs, err := j.SentWithoutUPO(ctx, nip, maxProcessing)
	if err != nil {
		return nil, err
	}
	var out []NoUPO
	for _, inv := range invs {
		out = append(out, NoUPO{File: inv.FileName, KsefNumber: inv.KsefNumber, Output: inv.OutputStem + ".ksef.json"})
	}
	return out, nil
}
