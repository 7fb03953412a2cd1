// Package watcher discovers invoice files that an ERP drops into an outbox
// directory and reports each one once it has stopped changing.
//
// # Model
//
// The directory listing is the truth; filesystem events are only hints.
// [Watcher.Run] lists the directory at start-up, every [Options.RescanEvery]
// (±10% jitter, so many daemons on one share do not list in lock-step), after
// any event-watcher error or overflow, and whenever [Watcher.Rescan] is called.
// Create, Write and Rename events only make the watcher look at one name
// sooner; Chmod events are ignored.
//
// A file is ready when two observations at least [Options.Settle] apart see the
// same size and modification time, or sooner when the platform says its
// writer has finished with it (see "What makes a file ready" below). An empty file must hold still for
// 3×Settle, so that a genuinely empty file is still reported (and rejected
// downstream with a clear error) while a file that is just being created is
// not. A ready file is sent once; if it is still there at the next full
// listing, unchanged, it is sent again (the consumer may have failed to claim
// it), so at most once per listing cycle. Files that disappear are forgotten.
//
// Directories (so also the hidden claim folders .ksef-sync/<daemon-id>/ into which daemons sharing
// an outbox move the files they take; the watcher never looks inside a folder), names not
// matching [Options.Patterns] (case-insensitive, so
// "*.xml" matches "FV_1.XML"), dot-files (which includes our own atomic-write
// temporaries ".name.tmp"), and temporary names (*.tmp, *.part, *.partial,
// *.crdownload, ~$*) are ignored.
//
// A missing or unreadable directory is not fatal: one warning is logged when
// the state changes, the listing is retried every [Options.DirRetry] (5 s),
// and discovery resumes when the directory comes back; [Watcher.OnDirChange]
// hears both changes.
//
// # Platforms
//
// Linux (inotify): events are reliable on local filesystems. On SMB/CIFS and
// NFS mounts the kernel receives no events for changes made by other
// machines, so discovery there relies on the periodic listing; set
// [Options.DisableEvents] for such shares. If inotify cannot be started (for
// example fs.inotify.max_user_watches or max_user_instances is exhausted) the
// watcher logs once and continues with listing only. A kernel queue overflow
// triggers a full listing. Every watcher of a process shares one inotify
// instance (shared_events.go), so hundreds of outboxes need one instance, not
// hundreds; a watcher that falls behind overflows only its own queue.
//
// Windows (ReadDirectoryChangesW): the event buffer can overflow under bursts,
// which triggers a full listing. Events on network shares (UNC paths) depend
// on the server and are often missing, so the listing covers them. Before a
// file is reported it must also open for reading while denying write sharing:
// a file still held open for writing by the ERP fails with
// ERROR_SHARING_VIOLATION and is retried after another Settle period.
//
// macOS/BSD (kqueue): kqueue holds one descriptor per file in the watched
// directory, so large outboxes may hit descriptor limits (the watcher then
// falls back to listing); prefer DisableEvents there. No open-for-read check.
//
// # What makes a file ready
//
// Linux (local filesystems): a close after writing (inotify IN_CLOSE_WRITE) or
// a rename into the outbox (IN_MOVED_TO), followed by a short stability check
// (size and modification time unchanged for 100 ms, or Settle if shorter) and
// a complete XML document (a root element opened and closed). Any change
// during the check, a file that is empty, cut off or not XML, sends the file
// back to the full settle window. A writer that keeps the file open while it
// writes produces no close event until it is done; one that reopens it per
// chunk produces closes, but its XML is incomplete until the last chunk.
// [File.ReadyBy] is "close-write" or "rename".
//
// Windows: an event for the file, then the short stability check, then the
// exclusive open (read access, write sharing denied) succeeding: while the ERP
// still has the file open for writing that open fails, so it is the writer-
// finished signal. [File.ReadyBy] is "exclusive"; a failed open falls back to
// the settle window.
//
// Everywhere else, and for every file found by a listing rather than an event
// (network shares, start-up, rescans, DisableEvents): the settle window
// exactly as described above. [File.ReadyBy] is "settle".
//
// On every platform, editors and well-behaved writers save via a temporary
// name followed by a rename; the rename arrives as a Create event for the
// final name, and the temporary name is ignored by the filters above.
package watcher
