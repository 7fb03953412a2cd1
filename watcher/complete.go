package watcher

// incompleteWaits bounds how many extra settle windows a file whose XML ends early is held back.
// A writer that pauses longer than the settle window leaves such a file; one that never finishes
// is offered after these windows and rejected by validation with its reason.
const incompleteWaits = 5

// maxCompleteCheck is the largest file the check parses; larger ones are far beyond any invoice
// and are handed on for the engine to judge.
const maxCompleteCheck = 16 << 20

// xmlEndsEarly reports whether the file at path is XML that stops in the middle (an element left
// open, a tag cut off): most likely a writer that has not finished. Everything else — complete XML,
// no XML at all, a file that cannot be read — is reported as not ending early: validation judges it.
func xmlEndsEarly(path string) bool {
	s, ok := readShape(path)
	return ok && s.cut && !s.malformed
}
