//go:build !windows

package outboxclaim

// hide does nothing: the leading dot already hides the folder.
func hide(string) {}

// inUse reports whether a rename failed only because the file is open elsewhere: never on systems
// where an open file can be renamed.
func inUse(error) bool { return false }
