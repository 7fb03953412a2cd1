package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder is a channel that keeps what it was given and fails its first `fail` sends.
type recorder struct {
	name string
	mu   sync.Mutex
	fail int
	got  []Message
	at   []time.Time
	// tries counts every Send, failed or not.
	tries int
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.fail > 0 {
		r.fail--
		return errors.New("server says no")
	}
	r.got = append(r.got, m)
	r.at = append(r.at, time.Now())
	return nil
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

func rejection(i int) Event {
	return Event{Kind: Rejected, Company: "5265877635", File: fmt.Sprintf("FV_%04d.xml", i), Code: "450", Time: time.Now()}
}

// 1,000 rejections in a minute are one message: the first 50 by name and code, then a count.
func TestDigestOneMessagePerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &recorder{name: "test"}
		n := New(Options{Channels: []Channel{ch}, Digest: 5 * time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); n.Run(ctx) }()
		start := time.Now()
		for i := range 1000 {
			n.Add(rejection(i))
			time.Sleep(60 * time.Millisecond) // 1,000 over a minute
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		msgs := ch.messages()
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if m.Total != 1000 || len(m.Events) != ListLimit {
			t.Errorf("total %d, listed %d; want 1000 and %d", m.Total, len(m.Events), ListLimit)
		}
		if got := ch.at[0].Sub(start); got != 5*time.Minute {
			t.Errorf("sent %s after the first event, want exactly the digest window", got)
		}
		lines := strings.Split(strings.TrimSpace(m.Text), "\n")
		if len(lines) != ListLimit+1 || lines[0] != "rejected: FV_0000.xml [450] (NIP 5265877635)" ||
			lines[ListLimit] != "… and 950 more (see `ksef-sync status` or the status page)" {
			t.Errorf("text:\n%s", m.Text)
		}
		if m.Subject != "ksef-sync: 1000 events (50 rejected, …)" {
			t.Errorf("subject %q", m.Subject)
		}
		// A later event opens a new window: a second message, never a merged one.
		n.Add(rejection(1000))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if msgs := ch.messages(); len(msgs) != 2 || msgs[1].Total != 1 {
			t.Errorf("after a second window: %d messages", len(msgs))
		}
		cancel()
		<-done
	})
}

// A failing channel is retried with backoff in the background: Add never blocks, the other channel
// gets its message on time, and the failing one gets it exactly once when it recovers.
func TestFailingChannelRetriedWithoutBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := &recorder{name: "flaky", fail: 3}
		good := &recorder{name: "good"}
		n := New(Options{Channels: []Channel{bad, good}, Digest: time.Minute, Backoff: 10 * time.Second, MaxBackoff: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); n.Run(ctx) }()
		n.Add(rejection(1))
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(good.messages()) != 1 || len(bad.messages()) != 0 {
			t.Fatalf("after the window: good %d, flaky %d", len(good.messages()), len(bad.messages()))
		}
		before := time.Now()
		for i := range 10000 { // while the flaky channel is failing, adding stays instant
			n.Add(rejection(i))
		}
		if time.Since(before) != 0 {
			t.Errorf("Add took %s of (fake) time", time.Since(before))
		}
		// Retries after 10 s, 20 s, 40 s: the fourth try succeeds 70 s after the first.
		time.Sleep(70 * time.Second)
		synctest.Wait()
		if got := bad.messages(); len(got) < 1 || got[0].Total != 1 || bad.tries < 4 {
			t.Errorf("flaky channel: %d messages after %d tries", len(got), bad.tries)
		}
		cancel()
		<-done
	})
}

func TestOnlyConfiguredEvents(t *testing.T) {
	n := New(Options{Events: []string{Stalled}})
	n.Add(rejection(1))
	n.Add(Event{Kind: Stalled, File: "a.xml"})
	if n.total != 1 || n.pending[0].Kind != Stalled {
		t.Errorf("pending %+v", n.pending)
	}
}

// credentials_expiring is sent once at 30, 7 and 1 days before, never twice for one threshold.
func TestCredentialsExpiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &recorder{name: "test"}
		n := New(Options{Channels: []Channel{ch}, Digest: time.Hour})
		expire := time.Now().Add(40 * 24 * time.Hour)
		w := &Watch{CredsExpire: expire, Notifier: n, Now: time.Now}
		var told []string
		for day := range 42 {
			before := n.total
			_ = w.Poll(context.Background())
			if n.total > before {
				told = append(told, fmt.Sprintf("day %d: %s", day, n.pending[len(n.pending)-1].Text))
			}
			time.Sleep(24 * time.Hour)
		}
		want := []string{
			"day 10: the KSeF credentials are due to stop working on " + expire.Format("2006-01-02") + " (in 30 days)",
			"day 33: the KSeF credentials are due to stop working on " + expire.Format("2006-01-02") + " (in 7 days)",
			"day 39: the KSeF credentials are due to stop working on " + expire.Format("2006-01-02") + " (in 1 day)",
		}
		if diff := cmp.Diff(want, told); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// The webhook body has a text field for Slack and Teams and the events as fields; a failure never
// shows the URL, which is a secret.
func TestWebhook(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, r.Header.Get("Content-Type"), " ")
		buf := make([]byte, 4096)
		k, _ := r.Body.Read(buf)
		body = b.String() + string(buf[:k])
	}))
	defer srv.Close()
	m := Compose("host1", []Event{rejection(7)}, 1)
	if err := (&Webhook{URL: srv.URL + "/hook/SECRET"}).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	want := `application/json {"text":"ksef-sync: 1 rejected on host1\nrejected: FV_0007.xml [450] (NIP 5265877635)\n","subject":"ksef-sync: 1 rejected on host1","total":1,"events":[{"kind":"rejected","company":"5265877635","file":"FV_0007.xml","code":"450","text":"","time":`
	if !strings.HasPrefix(body, want) {
		t.Errorf("body:\n%s\nwant prefix:\n%s", body, want)
	}
	srv.Close()
	err := (&Webhook{URL: srv.URL + "/hook/SECRET"}).Send(context.Background(), m)
	if err == nil || strings.Contains(Redact(err), "SECRET") || strings.Contains(Redact(err), srv.URL) {
		t.Errorf("redacted error %q", Redact(err))
	}
}

// A file that stays in the outbox for 10 minutes could not be claimed: stalled, told once.
func TestOutboxStall(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-11 * time.Minute)
	for _, name := range []string{"FV_1.XML", "FV_2.xml", ".FV_3.xml.tmp", "notes.txt", "~$FV_4.xml"} {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(dir+"/FV_new.xml", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := New(Options{})
	now := time.Now()
	w := &Watch{Outbox: dir, Patterns: []string{"*.xml"}, Notifier: n, Now: func() time.Time { return now }}
	_ = w.Poll(context.Background())
	now = now.Add(2 * time.Minute)
	_ = w.Poll(context.Background())
	var files []string
	for _, e := range n.pending {
		files = append(files, e.Kind+" "+e.File)
	}
	if diff := cmp.Diff([]string{"stalled FV_1.XML", "stalled FV_2.xml"}, files); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
