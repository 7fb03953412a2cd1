package watcher

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fastOptions: events on (fake), settle at its default, no listing during the test.
func fastOptions(dir string) Options {
	return Options{Dir: dir, Settle: settle, RescanEvery: time.Hour}
}

// TestWriterFinishedSkipsSettleWindow: a close-after-write or rename-into signal makes a complete
// file ready after the short stability check instead of the whole settle window.
func TestWriterFinishedSkipsSettleWindow(t *testing.T) {
	for _, how := range []string{readyByCloseWrite, readyByRename} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := useFakeEvents(t)
				h := start(t, fastOptions(t.TempDir()))
				p := h.write("a.xml", "<Faktura><P_2>1</P_2></Faktura>")
				src.done <- how + ":" + p
				advance(doneCheck / 2)
				if got := h.reported(); len(got) != 0 {
					t.Fatalf("reported before the stability check: %v", got)
				}
				advance(doneCheck)
				select {
				case f := <-h.ready:
					if f.Name != "a.xml" || f.ReadyBy != how {
						t.Fatalf("reported %+v, want a.xml ready by %s", f, how)
					}
				default:
					t.Fatalf("not reported after the stability check (settle is %s)", settle)
				}
			})
		})
	}
}

// TestWriterFinishedButChangingWaitsForSettle: a file that changes again after the signal (the
// writer reopened it) loses the fast path: the full settle window applies to the new version.
func TestWriterFinishedButChangingWaitsForSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := useFakeEvents(t)
		h := start(t, fastOptions(t.TempDir()))
		p := h.write("a.xml", "<Faktura><P_2>1</P_2></Faktura>")
		src.done <- readyByCloseWrite + ":" + p
		advance(doneCheck / 2)
		h.appendTo("a.xml", "\n<!-- more -->")
		advance(settle - doneCheck)
		if got := h.reported(); len(got) != 0 {
			t.Fatalf("changed file reported before its settle window: %v", got)
		}
		advance(settle)
		f := <-h.ready
		if f.ReadyBy != readyBySettle {
			t.Fatalf("ready by %q, want %q", f.ReadyBy, readyBySettle)
		}
	})
}

// TestWriterFinishedWithCutXMLWaits: a writer that closes a half-written file (and reopens it to
// append later) does not get its file taken early: the XML check sends it back to the settle path.
func TestWriterFinishedWithCutXMLWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := useFakeEvents(t)
		h := start(t, fastOptions(t.TempDir()))
		p := h.write("a.xml", "<Faktura><P_2>1</P_2>")
		src.done <- readyByCloseWrite + ":" + p
		advance(settle - time.Millisecond)
		if got := h.reported(); len(got) != 0 {
			t.Fatalf("cut XML reported: %v", got)
		}
		h.appendTo("a.xml", "</Faktura>")
		src.done <- readyByCloseWrite + ":" + p
		advance(doneCheck + time.Millisecond)
		if diff := cmp.Diff([]string{"a.xml"}, h.reported()); diff != "" {
			t.Fatalf("completed file (-want +got):\n%s", diff)
		}
	})
}

// TestNoSignalKeepsSettleWindow: without a writer-finished signal (a share, a listing) nothing
// changes: the settle window decides.
func TestNoSignalKeepsSettleWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		useFakeEvents(t)
		h := start(t, fastOptions(t.TempDir()))
		h.write("a.xml", "<Faktura/>")
		h.w.Rescan()
		advance(settle - time.Millisecond)
		if got := h.reported(); len(got) != 0 {
			t.Fatalf("reported before settle without a signal: %v", got)
		}
		advance(2 * time.Millisecond)
		f := <-h.ready
		if f.ReadyBy != readyBySettle {
			t.Fatalf("ready by %q", f.ReadyBy)
		}
	})
}
