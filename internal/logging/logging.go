// Package logging sets up the daemon's slog logger: text or JSON, to stderr (journald on Linux) or
// to a size-rotated file (Windows services have no console).
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Options select level, format and destination.
type Options struct {
	Level     string // debug | info | warn | error (default info)
	Format    string // text | json (default text)
	File      string // empty: Stderr
	MaxSizeMB int    // rotate when the file grows past this (default 20)
	MaxFiles  int    // rotated files kept (default 10)
	Stderr    io.Writer
	// LevelVar, when set, receives the level and lets the caller change it live (config reload).
	LevelVar *slog.LevelVar
}

// ParseLevel reads a config level name.
func ParseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(defaultStr(s, "info"))); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return level, nil
}

// New returns the logger and a close function for the file it may hold open.
func New(o Options) (*slog.Logger, func() error, error) {
	level, err := ParseLevel(o.Level)
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = o.Stderr
	if w == nil {
		w = os.Stderr
	}
	closeFn := func() error { return nil }
	if o.File != "" {
		rf, err := OpenRotating(o.File, int64(defaultInt(o.MaxSizeMB, 20))<<20, defaultInt(o.MaxFiles, 10))
		if err != nil {
			return nil, nil, err
		}
		w, closeFn = rf, rf.Close
	}
	var leveler slog.Leveler = level
	if o.LevelVar != nil {
		o.LevelVar.Set(level)
		leveler = o.LevelVar
	}
	hopts := &slog.HandlerOptions{Level: leveler}
	var h slog.Handler
	if strings.EqualFold(o.Format, "json") {
		h = slog.NewJSONHandler(w, hopts)
	} else {
		h = slog.NewTextHandler(w, hopts)
	}
	return slog.New(h), closeFn, nil
}

func defaultStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func defaultInt(n, d int) int {
	if n <= 0 {
		return d
	}
	return n
}

// RotatingFile is an io.Writer that renames the file to name.1 (shifting older ones up to
// name.<max>) when it would grow past maxSize.
type RotatingFile struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	maxKeep int
	f       *os.File
	size    int64
	// failedAt is the size at which the last rotation failed (0: none failed since the last success).
	failedAt int64
}

// OpenRotating opens (appending) or creates the log file.
func OpenRotating(path string, maxSize int64, maxKeep int) (*RotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, maxKeep: maxKeep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// rename is os.Rename; tests replace it to make a rotation fail.
var rename = os.Rename

// Write appends p, rotating first when p would push the file past its size limit. A rotation that
// fails (on Windows a rename fails whenever another process holds the file open) never silences the
// log: the line goes to the current file, and rotation is tried again once the file has grown by
// another tenth of its limit.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size > 0 && r.size+int64(len(p)) > r.rotateAt() {
		if err := r.rotate(); err != nil {
			r.failedAt = r.size
			fmt.Fprintf(os.Stderr, "ksef-sync: log rotation of %s failed, still writing to it: %v\n", r.path, err)
		}
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotateAt is the size that triggers the next rotation: the limit, or after a failed rotation a
// tenth of the limit beyond where it failed, so a stuck rename is not retried on every line.
func (r *RotatingFile) rotateAt() int64 {
	if r.failedAt > 0 {
		return max(r.maxSize, r.failedAt+r.maxSize/10)
	}
	return r.maxSize
}

// rotate shifts name.1 … name.<max-1> up by one and renames the current file to name.1, then opens
// a fresh one. When the rename of the current file fails, it reopens that file for appending and
// reports the error.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	r.f = nil
	_ = os.Remove(r.path + "." + strconv.Itoa(r.maxKeep))
	for i := r.maxKeep - 1; i >= 1; i-- {
		_ = rename(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1))
	}
	renameErr := rename(r.path, r.path+".1")
	if err := r.open(); err != nil {
		return errors.Join(renameErr, err)
	}
	if renameErr == nil {
		r.failedAt = 0
	}
	return renameErr
}

// Close closes the current file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
