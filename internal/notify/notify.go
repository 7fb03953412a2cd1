// Package notify tells people when something needs them: rejected or stalled invoices, KSeF
// outages, expiring credentials, failing pulls. Events are collected for a digest window and sent
// as one message per window through every configured channel (e-mail, webhook). A failing channel
// is retried with backoff in its own goroutine: Add never blocks and never slows sending.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event kinds; the [notify] events key lists which are sent.
const (
	Rejected            = "rejected"
	Stalled             = "stalled"
	KSeFUnavailable     = "ksef_unavailable"
	CredentialsExpiring = "credentials_expiring"
	OfflineDeadline     = "offline_deadline"
	PullFailing         = "pull_failing"
)

// AllEvents is the default event list.
var AllEvents = []string{Rejected, Stalled, KSeFUnavailable, CredentialsExpiring, OfflineDeadline, PullFailing}

// ListLimit is how many events a message lists by name; the rest are counted.
const ListLimit = 50

// Event is one thing to tell.
type Event struct {
	Kind    string    `json:"kind"`
	Company string    `json:"company"`        // NIP
	File    string    `json:"file,omitempty"` // invoice file name, for rejected and stalled
	Code    string    `json:"code,omitempty"`
	Text    string    `json:"text"`
	Time    time.Time `json:"time"`
}

// Message is one digest.
type Message struct {
	Subject string
	Text    string
	Events  []Event // at most ListLimit
	Total   int     // every event of the window
}

// Channel delivers a message.
type Channel interface {
	Name() string // for logs and `notify test`: never contains a secret
	Send(ctx context.Context, m Message) error
}

// Options configure a Notifier.
type Options struct {
	Channels []Channel
	Events   []string      // kinds to send; AllEvents when empty
	Digest   time.Duration // window; 5 minutes when 0
	Host     string        // named in the subject, so several installations can be told apart
	Logger   *slog.Logger
	// Backoff is the first retry delay of a failed delivery (doubling up to MaxBackoff); tests shorten it.
	Backoff, MaxBackoff time.Duration
	Attempts            int // per message and channel; 8 when 0
}

// Notifier collects events into digests and delivers them.
type Notifier struct {
	opt    Options
	log    *slog.Logger
	wanted map[string]bool

	mu      sync.Mutex
	pending []Event
	total   int
	kick    chan struct{}
	queues  []chan Message
}

// New returns a notifier; Run starts its work.
func New(o Options) *Notifier {
	if o.Digest <= 0 {
		o.Digest = 5 * time.Minute
	}
	if len(o.Events) == 0 {
		o.Events = AllEvents
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	n := &Notifier{opt: o, log: o.Logger.With("component", "notify"), wanted: map[string]bool{}, kick: make(chan struct{}, 1)}
	for _, e := range o.Events {
		n.wanted[e] = true
	}
	for range o.Channels {
		n.queues = append(n.queues, make(chan Message, 16))
	}
	return n
}

// Add records an event for the current window. It never blocks.
func (n *Notifier) Add(e Event) {
	if !n.wanted[e.Kind] {
		return
	}
	n.mu.Lock()
	if len(n.pending) < ListLimit {
		n.pending = append(n.pending, e)
	}
	n.total++
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run delivers digests until ctx ends; events still in an open window are dropped then (the
// journal keeps every invoice's state, and `status` shows it).
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, ch := range n.opt.Channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.deliver(ctx, ch, n.queues[i])
		}()
	}
	defer wg.Wait()
	for {
		// A window opens with its first event and closes Digest later: one message per window.
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		t := time.NewTimer(n.opt.Digest)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		n.flush()
	}
}

func (n *Notifier) flush() {
	n.mu.Lock()
	events, total := n.pending, n.total
	n.pending, n.total = nil, 0
	n.mu.Unlock()
	if total == 0 {
		return
	}
	m := Compose(n.opt.Host, events, total)
	for i, q := range n.queues {
		select {
		case q <- m:
		default:
			n.log.Warn("notification dropped: the channel is failing and its queue is full", "channel", n.opt.Channels[i].Name())
		}
	}
}

// deliver sends each queued message, retrying with backoff; it owns one channel.
func (n *Notifier) deliver(ctx context.Context, ch Channel, q <-chan Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-q:
			n.sendWithRetry(ctx, ch, m)
		}
	}
}

func (n *Notifier) sendWithRetry(ctx context.Context, ch Channel, m Message) {
	delay := n.opt.Backoff
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := ch.Send(sctx, m)
		cancel()
		if err == nil {
			n.log.Info("notification sent", "channel", ch.Name(), "events", m.Total)
			return
		}
		if attempt >= n.opt.Attempts || ctx.Err() != nil {
			n.log.Error("notification could not be delivered; giving up", "channel", ch.Name(), "attempts", attempt, "err", Redact(err))
			return
		}
		n.log.Warn("notification failed; will retry", "channel", ch.Name(), "in", delay, "err", Redact(err))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, n.opt.MaxBackoff)
	}
}

// Redact drops URLs from an error: a webhook URL is a secret (whoever knows it can post).
func Redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " webhook: " + ue.Err.Error()
	}
	return err.Error()
}

var kindTitle = map[string]string{
	Rejected:            "rejected",
	Stalled:             "stalled",
	KSeFUnavailable:     "KSeF unavailable",
	CredentialsExpiring: "credentials expiring",
	OfflineDeadline:     "offline deadline",
	PullFailing:         "pull failing",
}

// Compose builds the digest: a subject counting events by kind, then one line per event (the first
// ListLimit, by file name and code), then how many more.
func Compose(host string, events []Event, total int) Message {
	byKind := map[string]int{}
	for _, e := range events {
		byKind[e.Kind]++
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", byKind[k], kindTitle[k])
	}
	subject := "ksef-sync: " + strings.Join(parts, ", ")
	if total > len(events) {
		subject = fmt.Sprintf("ksef-sync: %d events (%s, …)", total, strings.Join(parts, ", "))
	}
	if host != "" {
		subject += " on " + host
	}
	var b strings.Builder
	for _, e := range events {
		b.WriteString(Line(e))
		b.WriteByte('\n')
	}
	if total > len(events) {
		fmt.Fprintf(&b, "… and %d more (see `ksef-sync status` or the status page)\n", total-len(events))
	}
	return Message{Subject: subject, Text: b.String(), Events: events, Total: total}
}

// Line is one event in words.
func Line(e Event) string {
	var b strings.Builder
	b.WriteString(kindTitle[e.Kind])
	if e.File != "" {
		b.WriteString(": " + e.File)
	}
	if e.Code != "" {
		b.WriteString(" [" + e.Code + "]")
	}
	if e.Text != "" {
		b.WriteString(" " + strings.Join(strings.Fields(e.Text), " "))
	}
	if e.Company != "" {
		b.WriteString(" (NIP " + e.Company + ")")
	}
	return b.String()
}
