//go:build windows

package ksefsim

// syncDir is a no-op: Windows cannot fsync a directory handle and rename is durable enough there.
func syncDir(string) {}
