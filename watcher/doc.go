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
// same size and modification time. An empty file must hold still for
// 3×Settle, so that a genuinely empty file is still reported (and rejected
// downstream with a clear error) while a file that is just being created is
// not. A ready file is sent once; if it is still there at the next full
// listing, unchanged, it is sent again (the consumer may have failed to claim
// it), so at most once per listing cycle. Files that disappear are forgotten.
//
// Directories, names not matching [Options.Patterns] (case-insensitive, so
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
// triggers a full listing.
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
// On every platform, editors and well-behaved writers save via a temporary
// name followed by a rename; the rename arrives as a Create event for the
// final name, and the temporary name is ignored by the filters above.
package watcher
