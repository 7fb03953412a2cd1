package watcher

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/google/go-cmp/cmp"
)

const (
	settle = 2 * time.Second
	rescan = 30 * time.Second
	// afterRescan is past the longest jittered rescan period.
	afterRescan = rescan*11/10 + time.Second
)

func listingOnly(dir string) Options {
	return Options{Dir: dir, Settle: settle, RescanEvery: rescan, DisableEvents: true}
}

// fastOptions: events on (fake), settle at its default, no listing during the test
// (only an explicit Rescan lists).
func fastOptions(dir string) Options {
	return Options{Dir: dir, Settle: settle, RescanEvery: time.Hour}
}

func TestNewValidates(t *testing.T) {
	abs := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"empty dir", Options{}, "Dir is empty"},
		{"relative dir", Options{Dir: "outbox"}, "not absolute"},
		{"bad pattern", Options{Dir: abs, Patterns: []string{"[x"}}, "syntax error in pattern"},
		{"empty pattern", Options{Dir: abs, Patterns: []string{""}}, "empty pattern"},
		{"negative settle", Options{Dir: abs, Settle: -time.Second}, "negative"},
		{"negative rescan", Options{Dir: abs, RescanEvery: -time.Second}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	w := newWatcher(t, Options{Dir: abs + string(filepath.Separator)})
	got := []any{w.opts.Dir, w.opts.Patterns, w.opts.RescanEvery, w.opts.Settle}
	want := []any{abs, []string{"*.xml"}, 30 * time.Second, 2 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestFileWrittenInPiecesReportedOnceAfterSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		h.write("fv1.xml", "<Faktura>")
		h.w.Rescan() // first observation at T
		synctest.Wait()

		advance(time.Second)
		h.appendTo("fv1.xml", "<Fa>") // changes before the T+Settle look
		advance(1500 * time.Millisecond)
		// T+2s look saw a new size and restarted the window; T+2.5s now.
		h.expectNone("reported %v while still being written")
		h.appendTo("fv1.xml", "</Fa></Faktura>")
		advance(2 * time.Second) // T+4.5s: the T+4s look saw the last change
		h.expectNone("reported %v before holding still for Settle")
		advance(2 * time.Second) // T+6.5s: unchanged since T+4s
		want := []string{"fv1.xml"}
		h.expect("reported", want...)
		advance(10 * time.Second) // no listing yet: nothing more
		h.expectNone("reported again without a listing: %v")
	})
}

func TestReportedFileCarriesStatFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		p := h.write("a.xml", "12345")
		h.w.Rescan()
		advance(settle)
		var f File
		select {
		case f = <-h.ready:
		default:
			t.Fatal("a.xml not reported")
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := File{Path: p, Name: "a.xml", Size: 5, ModTime: fi.ModTime(), ReadyBy: readyBySettle}
		if diff := cmp.Diff(want, f); diff != "" {
			t.Errorf("File (-want +got):\n%s", diff)
		}
	})
}

func TestFilteringAndCaseInsensitivity(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"default xml", nil, []string{"B.XML", "a.xml", "c.Xml"}},
		{"custom prefix", []string{"fv_*.xml"}, []string{"FV_2.XML", "fv_1.xml"}},
		{"several patterns", []string{"*.txt", "c.*"}, []string{"c.Xml", "d.txt"}},
	}
	files := []string{
		"a.xml", "B.XML", "c.Xml", "d.txt", "fv_1.xml", "FV_2.XML",
		".hidden.xml", "~$a.xml", "e.xml.tmp", "f.XML.TMP", "g.xml.part", "h.xml.partial",
		"i.xml.crdownload", ".fv_3.xml.tmp", "j.tmp", "notes.txt.part",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				for _, n := range files {
					if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Mkdir(filepath.Join(dir, "sub.xml"), 0o755); err != nil {
					t.Fatal(err)
				}
				opts := listingOnly(dir)
				opts.Patterns = tc.patterns
				h := start(t, opts)
				advance(settle)
				got := h.reported()
				// fv_1.xml and FV_2.XML also match the default pattern.
				want := tc.want
				if tc.patterns == nil {
					want = []string{"B.XML", "FV_2.XML", "a.xml", "c.Xml", "fv_1.xml"}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("reported (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestNameFilter(t *testing.T) {
	f, err := newNameFilter([]string{"*.xml"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"a.xml", true}, {"A.XML", true}, {"faktura 1.Xml", true},
		{"a.xml.tmp", false}, {"a.XML.Part", false}, {"a.partial", false}, {"x.crdownload", false},
		{"~$a.xml", false}, {".a.xml", false}, {".a.xml.tmp", false}, {"a.txt", false}, {"", false},
	}
	for _, tc := range tests {
		if got := f.match(tc.name); got != tc.want {
			t.Errorf("match(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestListingOnlyFindsFilesOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		h.write("late.xml", "x")
		advance(rescan*9/10 - time.Second) // before the earliest jittered listing
		h.expectNone("reported %v before any listing could see it")
		// The first listing falls in [27s, 33s]; the second not before 54s.
		advance(rescan*2/10 + time.Second + settle)
		// The second observation comes from a look scheduled Settle after
		// the listing, not from the next listing.
		h.expect("reported", "late.xml")
	})
}

func TestExistingFilesReportedAfterStartupListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		for _, n := range []string{"b.xml", "a.xml", "c.xml"} {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h := start(t, listingOnly(dir))
		advance(settle - time.Millisecond)
		h.expectNone("reported %v after a single observation")
		advance(time.Millisecond)
		// Receive in delivery order: files that settle together go in name order.
		var got []string
		for len(h.ready) > 0 {
			got = append(got, (<-h.ready).Name)
		}
		if diff := cmp.Diff([]string{"a.xml", "b.xml", "c.xml"}, got); diff != "" {
			t.Fatalf("delivery order (-want +got):\n%s", diff)
		}
	})
}

func TestEmptyFileNeedsThreeSettles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		h.write("empty.xml", "")
		h.w.Rescan()
		h.expectAfter(3*settle, "empty.xml")
	})
}

func TestEmptyFileThatGrowsUsesNormalSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		h.write("grow.xml", "")
		h.w.Rescan()
		advance(settle)
		h.appendTo("grow.xml", "<Faktura/>") // seen at the 3×Settle look
		h.expectAfter(2*settle+settle, "grow.xml")
	})
}

func TestUnclaimedFileReofferedOncePerListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, src := startFast(t) // only explicit Rescan lists
		p := h.write("a.xml", "<x/>")
		src.events <- fsnotify.Event{Name: p, Op: fsnotify.Create}
		advance(settle)
		h.expect("first report", "a.xml")

		// Hints about an unchanged, already reported file do not re-offer it.
		for _, op := range []fsnotify.Op{fsnotify.Write, fsnotify.Create, fsnotify.Chmod, fsnotify.Write} {
			src.events <- fsnotify.Event{Name: p, Op: op}
		}
		advance(10 * settle)
		h.expectNone("events re-offered %v")

		for range 3 {
			h.w.Rescan()
			h.expect("after listing", "a.xml")
		}

		// Removed: forgotten; nothing more even on later listings.
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		h.w.Rescan()
		advance(settle)
		h.w.Rescan()
		advance(settle)
		h.expectNone("removed file reported: %v")
	})
}

func TestChangedFileAfterReportIsReportedAgainAfterSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, src := startFast(t)
		p := h.write("a.xml", "v1")
		src.events <- fsnotify.Event{Name: p, Op: fsnotify.Create}
		advance(settle)
		if got := h.reported(); len(got) != 1 {
			t.Fatalf("got %v, want one report", got)
		}
		h.appendTo("a.xml", "-v2")
		src.events <- fsnotify.Event{Name: p, Op: fsnotify.Write}
		h.expectAfter(settle, "a.xml")
	})
}

func TestEventsAreHintsForSoonerLook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, src := startFast(t)
		dir := h.dir
		// Events for ignored or foreign names do nothing.
		h.write("x.xml.tmp", "x")
		src.events <- fsnotify.Event{Name: filepath.Join(dir, "x.xml.tmp"), Op: fsnotify.Create}
		src.events <- fsnotify.Event{Name: filepath.Join(dir, "nope.xml"), Op: fsnotify.Create}
		src.events <- fsnotify.Event{Name: filepath.Join(dir, "sub", "y.xml"), Op: fsnotify.Create}

		// An editor-style save: temp name renamed onto the final name.
		if err := os.Rename(filepath.Join(dir, "x.xml.tmp"), filepath.Join(dir, "x.xml")); err != nil {
			t.Fatal(err)
		}
		src.events <- fsnotify.Event{Name: filepath.Join(dir, "x.xml.tmp"), Op: fsnotify.Rename}
		src.events <- fsnotify.Event{Name: filepath.Join(dir, "x.xml"), Op: fsnotify.Create}
		advance(settle)
		h.expect("reported", "x.xml")
	})
}

func TestOverflowAndWatcherErrorTriggerListing(t *testing.T) {
	for _, evErr := range []error{fsnotify.ErrEventOverflow, errors.New("read directory changes: boom")} {
		t.Run(evErr.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, src := startFast(t)
				h.write("missed.xml", "x") // its event was lost
				src.errs <- evErr
				advance(settle)
				h.expect("reported", "missed.xml")
				added := src.addedCount()
				wantAdded := 1
				if evErr != fsnotify.ErrEventOverflow {
					wantAdded = 2 // the watch is re-armed after an error
				}
				if added != wantAdded {
					t.Errorf("watch added %d times, want %d", added, wantAdded)
				}
			})
		})
	}
}

func TestEventsUnavailableFallsBackToListing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T)
	}{
		{"cannot start", func(t *testing.T) {
			setEventSource(t, func() (eventSource, error) { return nil, errors.New("too many open files") })
		}},
		{"cannot watch", func(t *testing.T) {
			f := useFakeEvents(t)
			f.addErr = errors.New("no space left on device") // inotify watch limit
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc.setup(t)
				logs := &syncBuffer{}
				opts := listingOnly(t.TempDir())
				opts.DisableEvents = false
				opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
				h := start(t, opts)
				h.write("a.xml", "x")
				advance(afterRescan + settle)
				h.expect("reported", "a.xml")
				advance(3 * afterRescan)
				if n := logs.count(t, "WARN", "file events unavailable; discovering by periodic listing only"); n != 1 {
					t.Errorf("logged the fallback %d times, want once", n)
				}
			})
		})
	}
}

func TestMissingDirectoryRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		logs := &syncBuffer{}
		opts := listingOnly(dir)
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		h := start(t, opts)
		advance(5 * afterRescan)
		const missing = "outbox directory does not exist; retrying every few seconds"
		if n := logs.count(t, "WARN", missing); n != 1 {
			t.Fatalf("missing-directory warning logged %d times over several listings, want 1", n)
		}

		// reappear brings the outbox back with one file and waits past the next listing.
		reappear := func(name string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			h.write(name, "x")
			advance(afterRescan + settle)
		}
		reappear("a.xml")
		h.expectOnce("reported", "a.xml")
		if n := logs.count(t, "INFO", "outbox directory available again"); n != 1 {
			t.Errorf("recovery logged %d times, want 1", n)
		}

		// Gone again (share dropped), then back with the same file.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		advance(3 * afterRescan)
		if n := logs.count(t, "WARN", missing); n != 2 {
			t.Errorf("missing-directory warning logged %d times after second loss, want 2", n)
		}
		reappear("b.xml")
		h.expectOnce("reported after second recovery", "b.xml")
	})
}

func TestWatchedDirectoryRemovedIsReWatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		src := useFakeEvents(t)
		opts := listingOnly(dir)
		opts.DisableEvents = false
		h := start(t, opts)
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		src.events <- fsnotify.Event{Name: dir, Op: fsnotify.Remove}
		synctest.Wait()
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		advance(afterRescan)
		added := src.addedCount()
		if added != 2 {
			t.Fatalf("watch added %d times, want 2 (start-up and after the directory came back)", added)
		}
		p := h.write("a.xml", "x")
		src.events <- fsnotify.Event{Name: p, Op: fsnotify.Create}
		advance(settle)
		h.expect("reported", "a.xml")
	})
}

func TestFileStillOpenByWriterWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var locked atomic.Bool
		locked.Store(true)
		setCanRead(t, func(string) bool { return !locked.Load() })
		h := start(t, listingOnly(t.TempDir()))
		h.write("a.xml", "x")
		h.w.Rescan()
		advance(5 * settle)
		h.expectNone("locked file reported: %v")
		locked.Store(false)
		advance(settle)
		h.expect("reported", "a.xml")
	})
}

func TestFileThatDisappearsBeforeSettlingIsForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		p := h.write("a.xml", "x")
		h.w.Rescan()
		synctest.Wait()
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		advance(settle)
		h.expectNone("vanished file reported: %v")
		// Re-created: a fresh file that must settle again.
		h.write("a.xml", "x")
		h.w.Rescan()
		h.expectAfter(settle, "a.xml")
	})
}

func TestSlowConsumerDoesNotBlockDiscovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		w := newWatcher(t, listingOnly(dir))
		ready := make(chan File) // unbuffered, nobody receiving yet
		done := make(chan error, 1)
		go func() { done <- w.Run(t.Context(), ready) }()
		for _, n := range []string{"a.xml", "b.xml", "c.xml"} {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			w.Rescan() // would deadlock if the loop were stuck sending
			advance(settle)
		}
		// Listings while files wait in the queue must not queue them twice.
		w.Rescan()
		advance(afterRescan)
		var got []string
		for range 3 {
			got = append(got, (<-ready).Name)
		}
		if diff := cmp.Diff([]string{"a.xml", "b.xml", "c.xml"}, got); diff != "" {
			t.Fatalf("received (-want +got):\n%s", diff)
		}
		select {
		case f := <-ready:
			t.Fatalf("unexpected extra file %v", f)
		default:
		}
	})
}

func TestRunReturnsPromptlyOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := useFakeEvents(t)
		opts := listingOnly(t.TempDir())
		opts.DisableEvents = false
		h := start(t, opts)
		h.write("a.xml", "x")
		h.w.Rescan()
		synctest.Wait() // a pending look and a rescan timer are armed
		h.cancel()
		synctest.Wait() // no fake time passes: returning needs no timer
		select {
		case err := <-h.done:
			if err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			h.done <- nil
		default:
			t.Fatal("Run did not return after cancel")
		}
		if !src.isClosed() {
			t.Error("event source not closed")
		}
	})
}

func TestRunMisuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		if err := h.w.Run(t.Context(), make(chan File)); err == nil {
			t.Error("second concurrent Run succeeded")
		}
		if err := h.w.Run(t.Context(), nil); err == nil {
			t.Error("Run with nil channel succeeded")
		}
	})
}

func TestRescanIntervalJitter(t *testing.T) {
	w := newWatcher(t, Options{Dir: t.TempDir(), RescanEvery: rescan})
	l := newLoop(w)
	lo, hi := rescan, rescan
	for range 1000 {
		d := l.rescanInterval()
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < rescan*9/10 || hi > rescan*11/10 {
		t.Errorf("intervals in [%v, %v], want within ±10%% of %v", lo, hi, rescan)
	}
	if hi-lo < rescan/10 {
		t.Errorf("intervals in [%v, %v]: no real jitter", lo, hi)
	}
}
