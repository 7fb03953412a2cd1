//go:build linux

package watcher

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// doneSignals reports the names in watched directories that a writer has just finished with: a
// file closed after being written (IN_CLOSE_WRITE) or renamed into the directory (IN_MOVED_TO).
// fsnotify 1.10 reads these from the kernel but does not export them, so they come from a second,
// small inotify instance. They are hints like every other event: the loop still checks that the
// file holds still and that its XML is complete before reporting it.
type doneSignals struct {
	fd    int
	file  *os.File // owns fd; closing it ends the reader
	names chan string
	stop  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	dirs  map[int32]string // watch descriptor → directory
}

func newDoneSignals() (*doneSignals, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	s := &doneSignals{fd: fd, file: os.NewFile(uintptr(fd), "inotify-done"), names: make(chan string, 256),
		stop: make(chan struct{}), dirs: map[int32]string{}}
	go s.read()
	return s, nil
}

func (s *doneSignals) add(dir string) error {
	wd, err := unix.InotifyAddWatch(s.fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dirs[int32(wd)] = dir
	s.mu.Unlock()
	return nil
}

func (s *doneSignals) remove(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for wd, d := range s.dirs {
		if d == dir {
			_, _ = unix.InotifyRmWatch(s.fd, uint32(wd))
			delete(s.dirs, wd)
		}
	}
}

func (s *doneSignals) close() {
	s.once.Do(func() {
		close(s.stop)
		_ = s.file.Close()
	})
}

// done delivers "close-write:" or "rename:" followed by the file's path.
func (s *doneSignals) done() <-chan string { return s.names }

// read turns kernel records into paths until the descriptor is closed. A queue overflow loses
// signals only: the listing and the settle window still find every file.
func (s *doneSignals) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.file.Read(buf)
		if err != nil {
			return // closed (or broken): the fsnotify watcher and the listing carry on
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			raw := buf[off+unix.SizeofInotifyEvent : min(off+unix.SizeofInotifyEvent+nameLen, n)]
			off += unix.SizeofInotifyEvent + nameLen
			name := string(trimNUL(raw))
			if name == "" || mask&unix.IN_ISDIR != 0 {
				continue
			}
			s.mu.Lock()
			dir, ok := s.dirs[wd]
			s.mu.Unlock()
			if !ok {
				continue
			}
			how := readyByCloseWrite
			if mask&unix.IN_MOVED_TO != 0 {
				how = readyByRename
			}
			select {
			case s.names <- how + ":" + filepath.Join(dir, name):
			case <-s.stop:
				return
			}
		}
	}
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
