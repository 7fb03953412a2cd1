//go:build !windows

package outboxclaim

import "os"

// hide does nothing: the leading dot already hides the folder.
func hide(string) {}

// inUse reports whether a rename failed only because the file is open elsewhere: never on systems
// where an open file can be renamed.
func inUse(error) bool { return false }

// renameExclusive is rename(2): atomic on a path, so of two daemons renaming the same outbox file
// one finds it gone.
func renameExclusive(from, to string) error { return os.Rename(from, to) }
