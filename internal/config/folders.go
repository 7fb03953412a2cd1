package config

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// FolderUse is one folder the configuration makes ksef-sync use, and whether it must already exist.
type FolderUse struct {
	Key  string // config key, e.g. "folders.outbox"
	Path string
	// MustExist: the ERP fills this folder, so ksef-sync cannot create it (the outbox). The others
	// are created at first use when their parent exists.
	MustExist bool
}

// FoldersInUse lists the folders this configuration uses: the inbox only when pull is enabled.
// check-config and doctor both check exactly these, by the same rule (FolderProblem).
func (c *Config) FoldersInUse() []FolderUse {
	f := c.Folders
	uses := []FolderUse{
		{Key: "folders.outbox", Path: f.Outbox, MustExist: true},
		{Key: "folders.sent", Path: f.Sent},
		{Key: "folders.error", Path: f.Error},
	}
	if c.Pull.Enabled {
		uses = append(uses, FolderUse{Key: "folders.inbox", Path: f.Inbox})
	}
	if f.QR != "" {
		uses = append(uses, FolderUse{Key: "folders.qr", Path: f.QR})
	}
	return append(uses, FolderUse{Key: "folders.state", Path: f.State})
}

// shareHint is how README spells a share path; services see no mapped drive letters.
const shareHint = "use a UNC path like //server/share/ksef for shares, not a mapped drive letter"

// FolderProblem checks one folder on disk: it exists (or, when it may be created, its parent does),
// is a folder and can be written. It returns "" when all is well, else the problem and its fix.
// writeProbe creates and removes one small file to prove write access.
func FolderProblem(u FolderUse) (problem, fix string) {
	st, err := os.Stat(u.Path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !u.MustExist:
		parent := filepath.Dir(u.Path)
		if pst, perr := os.Stat(parent); perr == nil && pst.IsDir() {
			return "", "" // created at first use
		}
		return "the folder does not exist, and neither does its parent " + parent, "create it, or correct " + u.Key + " (" + shareHint + ")"
	case errors.Is(err, os.ErrNotExist):
		return "the folder does not exist", "create it, or correct " + u.Key + " (" + shareHint + ")"
	case errors.Is(err, syscall.ENOTDIR):
		return "a file stands in the way: part of this path is a file, not a folder", "correct " + u.Key + ", or move the file away and create the folder"
	case err != nil:
		return err.Error(), "give the service account read and write access to the folder"
	case !st.IsDir():
		return "this is a file, not a folder", "point " + u.Key + " at a folder"
	}
	// A probe of its own: companies sharing a folder are checked at the same time (doctor).
	probe, err := os.CreateTemp(u.Path, ".ksef-sync-probe-*.tmp")
	if err != nil {
		return "cannot write here: " + err.Error(), "grant the service account Modify rights on the folder (and on the share)"
	}
	probe.Close()
	_ = os.Remove(probe.Name())
	return "", ""
}
