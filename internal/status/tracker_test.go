package status

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tracker remembers the last warning (with its error) from any component, tells when KSeF stops
// answering (once per outage) and when a pull fails, and leaves the log itself unchanged.
func TestTracker(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tr := NewTracker(func() time.Time { return now })
	var changes []string
	tr.OnChange(func(c Change) { changes = append(changes, c.Kind+": "+c.Text) })
	var logged []string
	base := slog.New(handlerFunc(func(r slog.Record) { logged = append(logged, r.Message) }))
	log := slog.New(tr.Handler(base.Handler()))

	log.Info("all fine")
	if msg, _, avail, _ := tr.Snapshot(); msg != "" || avail != -1 {
		t.Errorf("after info: %q %d", msg, avail)
	}
	log.With("component", "engine").Warn("send step failed; will retry", "err", errors.New("dial tcp: connection refused"))
	if msg, _, _, _ := tr.Snapshot(); msg != "send step failed; will retry: dial tcp: connection refused" {
		t.Errorf("last error %q", msg)
	}
	tr.Request("invoiceSend", 200, time.Millisecond)
	tr.Request("invoiceSend", 0, time.Second)
	tr.Request("invoiceStatus", 503, time.Second) // the same outage
	tr.Request("invoiceSend", 201, time.Millisecond)
	tr.Request("invoiceSend", 0, time.Second) // a new one
	log.With("component", "pull").Warn("pull failed; the next run continues from the cursors", "err", errors.New("429"))
	want := []string{
		"ksef_unavailable: KSeF did not answer a request (endpoint group invoiceSend)",
		"ksef_unavailable: KSeF did not answer a request (endpoint group invoiceSend)",
		"pull_failing: pull failed; the next run continues from the cursors: 429",
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"all fine", "send step failed; will retry", "pull failed; the next run continues from the cursors"}, logged); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

type handlerFunc func(slog.Record)

func (h handlerFunc) Enabled(context.Context, slog.Level) bool { return true }

func (h handlerFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }

func (h handlerFunc) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h handlerFunc) WithGroup(string) slog.Handler { return h }
