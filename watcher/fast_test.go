package watcher

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestWriterFinishedSkipsSettleWindow: a close-after-write or rename-into signal makes a complete
// file ready after the short stability check instead of the whole settle window.
func TestWriterFinishedSkipsSettleWindow(t *testing.T) {
	for _, how := range []string{readyByCloseWrite, readyByRename} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, src := startFast(t)
				p := h.write("a.xml", "<Faktura><P_2>1</P_2></Faktura>")
				src.done <- how + ":" + p
				advance(doneCheck / 2)
				h.expectNone("reported before the stability check: %v")
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
		h, src := startFast(t)
		p := h.write("a.xml", "<Faktura><P_2>1</P_2></Faktura>")
		src.done <- readyByCloseWrite + ":" + p
		advance(doneCheck / 2)
		h.appendTo("a.xml", "\n<!-- more -->")
		advance(settle - doneCheck)
		h.expectNone("changed file reported before its settle window: %v")
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
		h, src := startFast(t)
		p := h.write("a.xml", "<Faktura><P_2>1</P_2>")
		src.done <- readyByCloseWrite + ":" + p
		advance(settle - time.Millisecond)
		h.expectNone("cut XML reported: %v")
		h.appendTo("a.xml", "</Faktura>")
		src.done <- readyByCloseWrite + ":" + p
		advance(doneCheck + time.Millisecond)
		h.expect("completed file", "a.xml")
	})
}

// TestNoSignalKeepsSettleWindow: without a writer-finished signal (a share, a listing) nothing
// changes: the settle window decides.
func TestNoSignalKeepsSettleWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startFast(t)
		h.write("a.xml", "<Faktura/>")
		h.w.Rescan()
		advance(settle - time.Millisecond)
		h.expectNone("reported before settle without a signal: %v")
		advance(2 * time.Millisecond)
		f := <-h.ready
		if f.ReadyBy != readyBySettle {
			t.Fatalf("ready by %q", f.ReadyBy)
		}
	})
}
