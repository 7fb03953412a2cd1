// Package outboxclaim decides which daemon owns an outbox file when several daemons (on one or on
// several machines, each with its own state folder) watch the same outbox on a share.
//
// # The rule
//
// A file belongs to the daemon whose rename of outbox/NAME into its own hidden claim folder,
// outbox/.ksef-sync/<daemon-id>/NAME, succeeded. The rename happens on the share itself, before
// anything reads the file, and a rename is atomic there (SMB and NFS servers, NTFS, ext4): of two
// daemons renaming one file, one succeeds and the other finds the source gone (on Windows, or meets
// a sharing violation: see renameExclusive for why os.Rename is not used there). Only the winner
// claims the file into its journal; the loser skips it silently. The claim folder is inside the
// outbox, so the rename never crosses a file system, and it is a dot-folder, which the outbox
// watcher ignores like every folder.
//
// # Daemon id
//
// Each state folder holds its daemon's id in the file "daemon-id": the host name (for people
// reading folder names) and 8 random hex digits (so two daemons on one host with separate state
// folders differ), written once, e.g. "erp-srv1-3f9a2c1b". It never changes afterwards, even if the
// host is renamed, so files a crash left in the claim folder are always found again by the daemon
// that took them.
//
// # Crash recovery
//
// A file in our claim folder was renamed by us and is either not yet in the journal (the process
// died between the rename and the claim) or in it with its removal from the claim folder pending.
// Claiming every such file again at start-up settles both: the journal's claim protocol recognises
// a recorded file (same path and bytes) and only removes it. Other daemons' folders are never
// touched; an administrator hands a dead host's files back by moving them into the outbox.
package outboxclaim
