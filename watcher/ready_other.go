//go:build !windows

package watcher

// openableForRead reports whether no writer still holds the file. Outside
// Windows, open files are not locked against readers, so the size+mtime
// settle check is the only signal.
func openableForRead(string) bool { return true }

// exclusiveOpenProvesDone: outside Windows an open file is not locked against readers, so a
// successful open says nothing about the writer.
const exclusiveOpenProvesDone = false
